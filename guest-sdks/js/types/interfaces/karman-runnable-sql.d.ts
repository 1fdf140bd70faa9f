/// <reference path="./karman-runnable-types.d.ts" />
declare module 'karman:runnable/sql@0.1.0' {
  /**
   * Runs the named query and returns its rows.
   */
  export function query(name: string, params: Array<Value>): Rows;
  /**
   * Runs the named statement and returns the number of rows it affected.
   */
  export function execute(name: string, params: Array<Value>): bigint;
  /**
   * Runs raw SQL (needs a `raw: true` grant) and returns its rows.
   */
  export function queryRaw(sql: string, params: Array<Value>): Rows;
  /**
   * Runs a raw SQL statement (needs a `raw: true` grant); returns the rows affected.
   */
  export function executeRaw(sql: string, params: Array<Value>): bigint;
  /**
   * Starts a transaction on a connection of its own.
   */
  export function begin(): Transaction;
  /**
   * Runs the statements atomically, in order: all are committed, or none is. Returns the
   * rows affected by each.
   */
  export function batch(statements: Array<Statement>): BigUint64Array;
  export type CapError = import('karman:runnable/types@0.1.0').CapError;
  /**
   * A SQL value. Timestamps, dates, decimals and JSON columns are returned as `text`
   * (RFC 3339 for timestamps, the exact decimal digits, the JSON document).
   */
  export type Value = ValueNull | ValueBoolean | ValueInt | ValueFloat | ValueText | ValueBlob;
  export interface ValueNull {
    tag: 'null',
  }
  export interface ValueBoolean {
    tag: 'boolean',
    val: boolean,
  }
  export interface ValueInt {
    tag: 'int',
    val: bigint,
  }
  export interface ValueFloat {
    tag: 'float',
    val: number,
  }
  export interface ValueText {
    tag: 'text',
    val: string,
  }
  export interface ValueBlob {
    tag: 'blob',
    val: Uint8Array,
  }
  /**
   * The result of a query: column names, then one list of values per row, in column order.
   */
  export interface Rows {
    columns: Array<string>,
    rows: Array<Array<Value>>,
  }
  /**
   * One statement of a `batch`.
   */
  export interface Statement {
    /**
     * The name of a query declared in the Directive.
     */
    query: string,
    params: Array<Value>,
    /**
     * When set, the batch fails (and is rolled back) if the statement affects fewer rows.
     */
    minRowsAffected?: bigint,
  }
  /**
   * Why a `batch` failed: the index of the failing statement and the reason.
   */
  export interface BatchError {
    index: number,
    error: CapError,
  }
  
  export class Transaction implements Disposable {
    /**
     * This type does not have a public constructor.
     */
    private constructor();
    /**
    * As `sql.query`, inside the transaction.
    */
    query(name: string, params: Array<Value>): Rows;
    /**
    * As `sql.execute`, inside the transaction.
    */
    execute(name: string, params: Array<Value>): bigint;
    /**
    * As `sql.query-raw`, inside the transaction.
    */
    queryRaw(sql: string, params: Array<Value>): Rows;
    /**
    * As `sql.execute-raw`, inside the transaction.
    */
    executeRaw(sql: string, params: Array<Value>): bigint;
    /**
    * Commits. Any later call on this transaction fails with `invalid`.
    */
    commit(): void;
    /**
    * Rolls back. Any later call on this transaction fails with `invalid`.
    */
    rollback(): void;
    [Symbol.dispose](): void;
  }
}
