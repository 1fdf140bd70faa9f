/**
 * SQL on the app's database (needs an `sql` grant): named queries, raw SQL, transactions
 * (`begin()`, rolled back unless committed) and atomic batches.
 *
 * Parameters are plain JavaScript values: `null`/`undefined` → null, a boolean, a safe
 * integer or a bigint → int, any other number → float, a string → text, a `Uint8Array` →
 * blob; a WIT value (`{ tag: 'float', val: 1 }`) passes as is. Results come back the same way:
 * an int is a number when it is a safe integer, else a bigint; a blob is a `Uint8Array`.
 */
import * as raw from 'karman:runnable/sql@0.1.0';
import { BatchError, capability } from './errors.js';
import { isBytes, typeOf } from './text.js';

const TAGS = new Set(['null', 'boolean', 'int', 'float', 'text', 'blob']);

/** A parameter as a WIT `value`. */
function toValue(param) {
  if (param === null || param === undefined) return { tag: 'null' };
  switch (typeof param) {
    case 'boolean':
      return { tag: 'boolean', val: param };
    case 'bigint':
      return { tag: 'int', val: param };
    case 'number':
      return Number.isSafeInteger(param)
        ? { tag: 'int', val: BigInt(param) }
        : { tag: 'float', val: param };
    case 'string':
      return { tag: 'text', val: param };
  }
  if (isBytes(param)) return { tag: 'blob', val: param };
  if (TAGS.has(param.tag)) return param;
  throw new TypeError(`sql: a parameter cannot be ${typeOf(param)}`);
}

/** A 64-bit integer as a number when it is safe, else as is (a bigint). */
function toInt(value) {
  const safe = value >= Number.MIN_SAFE_INTEGER && value <= Number.MAX_SAFE_INTEGER;
  return safe ? Number(value) : value;
}

function fromValue({ tag, val }) {
  if (tag === 'null') return null;
  return tag === 'int' ? toInt(val) : val;
}

function toRows({ columns, rows }) {
  return { columns, rows: rows.map((row) => row.map(fromValue)) };
}

const toParams = (params) => params.map(toValue);

/** Runs the named query and returns `{ columns, rows }`, each row its values in column order. */
export function query(name, params = []) {
  return toRows(capability(() => raw.query(name, toParams(params))));
}

/** Runs the named statement and returns the number of rows it affected. */
export function execute(name, params = []) {
  return toInt(capability(() => raw.execute(name, toParams(params))));
}

/** Runs raw SQL (needs a `raw: true` grant) and returns its rows. */
export function queryRaw(sql, params = []) {
  return toRows(capability(() => raw.queryRaw(sql, toParams(params))));
}

/** Runs a raw SQL statement (needs a `raw: true` grant); returns the rows affected. */
export function executeRaw(sql, params = []) {
  return toInt(capability(() => raw.executeRaw(sql, toParams(params))));
}

/**
 * A transaction on a connection of its own, from `begin()`. Not committed by the end of the
 * run, it is rolled back.
 */
class Transaction {
  #transaction;

  constructor(transaction) {
    this.#transaction = transaction;
  }

  /** As `sql.query`, inside the transaction. */
  query(name, params = []) {
    return toRows(capability(() => this.#transaction.query(name, toParams(params))));
  }

  /** As `sql.execute`, inside the transaction. */
  execute(name, params = []) {
    return toInt(capability(() => this.#transaction.execute(name, toParams(params))));
  }

  /** As `sql.queryRaw`, inside the transaction. */
  queryRaw(sql, params = []) {
    return toRows(capability(() => this.#transaction.queryRaw(sql, toParams(params))));
  }

  /** As `sql.executeRaw`, inside the transaction. */
  executeRaw(sql, params = []) {
    return toInt(capability(() => this.#transaction.executeRaw(sql, toParams(params))));
  }

  /** Commits. Any later call on this transaction fails with a 400 `RunError`. */
  commit() {
    capability(() => this.#transaction.commit());
  }

  /** Rolls back. Any later call on this transaction fails with a 400 `RunError`. */
  rollback() {
    capability(() => this.#transaction.rollback());
  }
}

/** Starts a transaction. */
export function begin() {
  return new Transaction(capability(() => raw.begin()));
}

/**
 * Runs `statements` (`{ query, params, minRowsAffected }`, `query` a declared name) atomically,
 * in order, and returns the rows affected by each. On failure nothing is committed and a
 * `BatchError` (a `RunError` with the failing statement's `index`) is thrown.
 */
export function batch(statements) {
  const lowered = statements.map(({ query, params = [], minRowsAffected }) => ({
    query,
    params: toParams(params),
    minRowsAffected,
  }));
  let counts;
  try {
    counts = raw.batch(lowered);
  } catch (error) {
    const payload = error?.payload;
    if (payload?.error && Number.isInteger(payload.index)) {
      throw new BatchError(payload.index, payload.error);
    }
    throw error;
  }
  // A list<u64> arrives as a BigUint64Array, whose map would make bigints again.
  return Array.from(counts, toInt);
}
