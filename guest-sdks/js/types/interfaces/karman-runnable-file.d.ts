/// <reference path="./karman-runnable-types.d.ts" />
declare module 'karman:runnable/file@0.1.0' {
  /**
   * The contents of the static file `name`, a `/`-separated path relative to the static
   * directory (e.g. `img/logo.png`; `.` segments and repeated slashes are ignored).
   */
  export function getStatic(name: string): Uint8Array;
  export type CapError = import('karman:runnable/types@0.1.0').CapError;
}
