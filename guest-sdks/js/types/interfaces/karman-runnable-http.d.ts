/// <reference path="./karman-runnable-types.d.ts" />
declare module 'karman:runnable/http@0.1.0' {
  /**
   * Sends the request and waits for the whole response.
   */
  export function send(request: Request): Response;
  export type CapError = import('karman:runnable/types@0.1.0').CapError;
  /**
   * Header (name, value) pairs.
   */
  export type Headers = Array<[string, string]>;
  /**
   * An outbound request.
   */
  export interface Request {
    /**
     * `GET`, `POST`, …
     */
    method: string,
    /**
     * An absolute `http://` or `https://` URL.
     */
    url: string,
    headers: Headers,
    body: Uint8Array,
    /**
     * Overrides the default timeout, up to the host's maximum.
     */
    timeoutMs?: number,
  }
  /**
   * The response to an outbound request (after redirects).
   */
  export interface Response {
    status: number,
    headers: Headers,
    body: Uint8Array,
  }
}
