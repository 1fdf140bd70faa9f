declare module 'karman:runnable/req@0.1.0' {
  /**
   * The HTTP method (`GET`, `POST`, …), or `STREAM` for a stream message and `SCHED` for a
   * scheduled run.
   */
  export function method(): string;
  /**
   * The request URL (path and query), or the subject/topic a stream message arrived on.
   */
  export function url(): string;
  /**
   * The request id: the one the client sent in `x-request-id` when it was well-formed,
   * otherwise one the host generated. It is also returned in the response's `x-request-id`.
   */
  export function id(): string;
  /**
   * The request body or message payload (the same bytes `run` receives as its input).
   */
  export function body(): Uint8Array;
  /**
   * The value of a request header (or message header), by case-insensitive name.
   * When a header appears more than once, the values are joined with ", ".
   */
  export function header(name: string): string | undefined;
  /**
   * All request headers as (lower-case name, value) pairs, in arrival order.
   */
  export function headers(): Array<[string, string]>;
  /**
   * A parameter of the handler's resource pattern: `:id` in `/users/:id` is `url-param("id")`,
   * a `*rest` wildcard is `url-param("rest")`.
   */
  export function urlParam(name: string): string | undefined;
  /**
   * A query-string parameter, percent-decoded; the first one when it appears more than once.
   */
  export function queryParam(name: string): string | undefined;
  /**
   * The value an earlier step stored in the state under `key` (its name, or its `as:`), as
   * this step sees the state (a step with `with:` sees only the keys it names).
   */
  export function state(key: string): Uint8Array | undefined;
  /**
   * The keys of the state as this step sees it, in sorted order.
   */
  export function stateKeys(): Array<string>;
  /**
   * A top-level field of the body, when the body is a JSON object (as Atmo's
   * `req.body-field`): a string field gives its value (unescaped, without quotes), any other
   * field its compact JSON text (`42`, `true`, `null`, `{"a":1}`; a fraction as the shortest
   * text of its 64-bit float, `1.50` → `1.5`). None when the body is not a JSON object or
   * has no such field; with a field named twice, the last.
   */
  export function bodyField(name: string): string | undefined;
}
