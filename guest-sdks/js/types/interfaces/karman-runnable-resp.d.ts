/// <reference path="./karman-runnable-types.d.ts" />
declare module 'karman:runnable/resp@0.1.0' {
  /**
   * Sets a response header, replacing any earlier value. Fails with `invalid` for a name or
   * value that is not valid in HTTP, and with `denied` for headers the host owns
   * (`content-length`, `transfer-encoding`, `connection`, `x-request-id`).
   * 
   * A response holds at most 100 headers whose names and values add up to at most 64 KiB:
   * a call past either cap traps, and the request ends with 500 naming the cap.
   */
  export function setHeader(name: string, value: string): void;
  /**
   * Sets the status of a successful response (default 200). Fails with `invalid` outside
   * 100..=599. A run error's code takes precedence over this.
   */
  export function setStatus(code: number): void;
  export type CapError = import('karman:runnable/types@0.1.0').CapError;
}
