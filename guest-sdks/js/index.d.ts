/**
 * @karman/sdk: write Karman Runnables in JavaScript or TypeScript.
 *
 * The raw modules componentize-js binds (`karman:runnable/<interface>@0.1.0`) are declared in
 * `types/`, generated from the WIT package by `npm run types`.
 */
/// <reference path="./types/runnable.d.ts" />

/** A `cap-error` of the WIT package: why a capability call failed. */
export type CapabilityError = import('karman:runnable/types@0.1.0').CapError;

/**
 * An error ending a step: `code` becomes the HTTP status (unless the Directive's `onErr`
 * continues the sequence) and `message` is returned to the client.
 */
export class RunError extends Error {
  /** @throws RangeError when `code` is not an integer in 0..=65535. */
  constructor(code: number, message: string);
  /** An HTTP-style status code. */
  code: number;
  /** What componentize-js lowers into the export's `run-error`. */
  readonly payload: { code: number; message: string };
  /**
   * The run error for a `cap-error`, its message unchanged: denied → 403, not-found → 404,
   * invalid → 400, unavailable → 503, other → 500.
   */
  static fromCapabilityError(error: CapabilityError): RunError;
}

/** A failed `sql.batch`: the run error of the failing statement's `cap-error`. */
export class BatchError extends RunError {
  constructor(index: number, error: CapabilityError);
  /** The index of the failing statement. */
  index: number;
}

/** The output of a step: bytes, or a string sent as UTF-8. */
export type Output = Uint8Array | string;

/**
 * Wraps `handler` as the `run` export: `export const run = runnable((input) => …)`.
 * A thrown `RunError` (or an uncaught capability error) fails the step with its code; any
 * other exception fails it with a 500 and its message, its stack going to the host log.
 * The wrapped `run` returns a promise only when `handler` does.
 */
export function runnable(
  handler: (input: Uint8Array) => Output | Promise<Output>,
): (input: Uint8Array) => Uint8Array | Promise<Uint8Array>;

/** The request or message that started the run, and the state shared by its steps. */
export namespace req {
  /** `GET`, `POST`, …, or `STREAM` for a stream message and `SCHED` for a scheduled run. */
  function method(): string;
  /** The request URL (path and query), or the subject/topic of a stream message. */
  function url(): string;
  /** The request id (also returned in the response's `x-request-id`). */
  function id(): string;
  /** The request body or message payload (the same bytes `run` receives). */
  function body(): Uint8Array;
  /** The request body as text (invalid UTF-8 replaced by U+FFFD). */
  function bodyText(): string;
  /** A request header by case-insensitive name; repeated headers joined with ", ". */
  function header(name: string): string | undefined;
  /** All request headers as [lower-case name, value] pairs, in arrival order. */
  function headers(): Array<[string, string]>;
  /** A `:param` or `*wildcard` of the handler's resource, percent-decoded. */
  function urlParam(name: string): string | undefined;
  /** The first value of a query-string parameter, percent-decoded. */
  function queryParam(name: string): string | undefined;
  /** The value an earlier step stored in the state under `key`. */
  function state(key: string): Uint8Array | undefined;
  /** A state value as text (invalid UTF-8 replaced by U+FFFD). */
  function stateText(key: string): string | undefined;
  /** The state keys this step sees, sorted. */
  function stateKeys(): string[];
  /**
   * A top-level field of a JSON-object body: a string field's value, any other field's
   * compact JSON text (`42`, `true`, `null`, `{"a":1}`); `undefined` when the body is not a JSON
   * object or has no such field.
   */
  function bodyField(name: string): string | undefined;
}

/** Status and headers of the HTTP response (failures throw a `RunError`). */
export namespace resp {
  /** Sets the status of a successful response (100..=599; default 200). */
  function setStatus(code: number): void;
  /** Sets a response header, replacing any earlier value. */
  function setHeader(name: string, value: string): void;
}

/** The key-value cache (needs a `cache` grant; failures throw a `RunError`). */
export const cache: {
  /** The value under `key`, or `undefined` when absent or expired. */
  get(key: string): Uint8Array | undefined;
  /** The value under `key` as text, or `undefined` when absent or expired. */
  getText(key: string): string | undefined;
  /** Stores `value` (a string as UTF-8); with `ttlMs` it expires after that many milliseconds. */
  set(key: string, value: Uint8Array | string, options?: { ttlMs?: number | bigint }): void;
  /** Removes `key`; an absent key is not an error. */
  delete(key: string): void;
};

/** SQL on the app's database (needs an `sql` grant; failures throw a `RunError`). */
export namespace sql {
  /** A WIT `value`, passed as is. */
  type Value = import('karman:runnable/sql@0.1.0').Value;
  /**
   * A parameter: null/undefined → null, boolean, safe integer or bigint → int, other number →
   * float, string → text, Uint8Array → blob, or a WIT `Value`.
   */
  type Param = null | undefined | boolean | number | bigint | string | Uint8Array | Value;
  /** A result value: an int is a number when it is a safe integer, else a bigint. */
  type Cell = null | boolean | number | bigint | string | Uint8Array;
  /** Column names, then one list of values per row, in column order. */
  interface Rows {
    columns: string[];
    rows: Cell[][];
  }
  /** One statement of a `batch`: a declared query's name and its parameters. */
  interface Statement {
    query: string;
    params?: Param[];
    /** When set, the batch fails (and is rolled back) if the statement affects fewer rows. */
    minRowsAffected?: number | bigint;
  }
  /** A transaction on a connection of its own; rolled back unless committed. */
  interface Transaction {
    query(name: string, params?: Param[]): Rows;
    execute(name: string, params?: Param[]): number | bigint;
    queryRaw(sql: string, params?: Param[]): Rows;
    executeRaw(sql: string, params?: Param[]): number | bigint;
    /** Commits; any later call fails with a 400 `RunError`. */
    commit(): void;
    /** Rolls back; any later call fails with a 400 `RunError`. */
    rollback(): void;
  }
  /** Runs a named query the Directive declares. */
  function query(name: string, params?: Param[]): Rows;
  /** Runs a named statement; returns the rows affected. */
  function execute(name: string, params?: Param[]): number | bigint;
  /** Runs raw SQL (needs `raw: true`). */
  function queryRaw(sql: string, params?: Param[]): Rows;
  /** Runs a raw SQL statement (needs `raw: true`); returns the rows affected. */
  function executeRaw(sql: string, params?: Param[]): number | bigint;
  /** Starts a transaction. */
  function begin(): Transaction;
  /** Runs named statements atomically; returns the rows affected by each. @throws BatchError */
  function batch(statements: Statement[]): Array<number | bigint>;
}

/** Outbound HTTP (needs an `http` grant; failures throw a `RunError`). */
export namespace http {
  /** Headers: [name, value] pairs, or an object of them. */
  type Headers = Array<[string, string]> | Record<string, string>;
  interface Request {
    /** Default `GET`. */
    method?: string;
    /** An absolute http:// or https:// URL. */
    url: string;
    headers?: Headers;
    /** Bytes, or a string sent as UTF-8. */
    body?: Uint8Array | string;
    /** Overrides the default timeout, up to the host's maximum. */
    timeoutMs?: number;
  }
  /** The response (after redirects). */
  interface Response {
    status: number;
    headers: Array<[string, string]>;
    body: Uint8Array;
    /** The body as text (invalid UTF-8 replaced by U+FFFD). */
    text(): string;
    /** The first value of a header (names compare case-insensitively). */
    header(name: string): string | undefined;
  }
  /** Sends the request and waits for the whole response. */
  function send(request: Request): Response;
  /** Sends a `GET`. */
  function get(url: string, headers?: Headers): Response;
  /** Sends a `POST` of `body` with its content type. */
  function post(url: string, contentType: string, body: Uint8Array | string): Response;
}

/** GraphQL over HTTP (needs a `graphql` grant). */
export namespace graphql {
  /**
   * POSTs `query` with `variables` (an object, JSON text, or none) to `endpoint`; returns the
   * `data` member of the answer as JSON text. Server errors throw a 502 `RunError` (messages
   * joined by "; "), capability errors a `RunError` with the usual mapping.
   */
  function query(endpoint: string, query: string, variables?: object | string): string;
}

/** Logging into the host log, tagged with the component and the request id. */
export namespace log {
  type Level = import('karman:runnable/log@0.1.0').Level;
  function log(level: Level, message: unknown): void;
  function trace(message: unknown): void;
  function debug(message: unknown): void;
  function info(message: unknown): void;
  function warn(message: unknown): void;
  function error(message: unknown): void;
}

/**
 * The app's static files (needs a `files` grant; failures throw a `RunError`: a name that is
 * absolute or has `..` → 400, outside the granted sub-directory → 403, missing → 404).
 */
export namespace file {
  /** The contents of the static file `name` (e.g. `img/logo.png`). */
  function getStatic(name: string): Uint8Array;
  /** The contents of the static file `name` as text (invalid UTF-8 replaced by U+FFFD). */
  function getStaticText(name: string): string;
}
