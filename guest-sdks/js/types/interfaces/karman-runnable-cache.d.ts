/// <reference path="./karman-runnable-types.d.ts" />
declare module 'karman:runnable/cache@0.1.0' {
  /**
   * The value stored under `key`, or none when absent or expired.
   */
  export function get(key: string): Uint8Array | undefined;
  /**
   * Stores `value` under `key`, replacing any earlier value; with `ttl-ms` it expires after
   * that many milliseconds.
   */
  export function set(key: string, value: Uint8Array, ttlMs: bigint | undefined): void;
  /**
   * Removes `key`; removing an absent key is not an error.
   */
  export { _delete as delete };
  function _delete(key: string): void;
  export type CapError = import('karman:runnable/types@0.1.0').CapError;
}
