/// <reference path="./interfaces/karman-runnable-cache.d.ts" />
/// <reference path="./interfaces/karman-runnable-file.d.ts" />
/// <reference path="./interfaces/karman-runnable-graphql.d.ts" />
/// <reference path="./interfaces/karman-runnable-http.d.ts" />
/// <reference path="./interfaces/karman-runnable-log.d.ts" />
/// <reference path="./interfaces/karman-runnable-req.d.ts" />
/// <reference path="./interfaces/karman-runnable-resp.d.ts" />
/// <reference path="./interfaces/karman-runnable-sql.d.ts" />
/// <reference path="./interfaces/karman-runnable-types.d.ts" />
declare module 'karman:runnable/runnable@0.1.0' {
  export type RunError = import('karman:runnable/types@0.1.0').RunError;
  export type * as KarmanRunnableCache010 from 'karman:runnable/cache@0.1.0'; // import karman:runnable/cache@0.1.0
  export type * as KarmanRunnableFile010 from 'karman:runnable/file@0.1.0'; // import karman:runnable/file@0.1.0
  export type * as KarmanRunnableGraphql010 from 'karman:runnable/graphql@0.1.0'; // import karman:runnable/graphql@0.1.0
  export type * as KarmanRunnableHttp010 from 'karman:runnable/http@0.1.0'; // import karman:runnable/http@0.1.0
  export type * as KarmanRunnableLog010 from 'karman:runnable/log@0.1.0'; // import karman:runnable/log@0.1.0
  export type * as KarmanRunnableReq010 from 'karman:runnable/req@0.1.0'; // import karman:runnable/req@0.1.0
  export type * as KarmanRunnableResp010 from 'karman:runnable/resp@0.1.0'; // import karman:runnable/resp@0.1.0
  export type * as KarmanRunnableSql010 from 'karman:runnable/sql@0.1.0'; // import karman:runnable/sql@0.1.0
  export type * as KarmanRunnableTypes010 from 'karman:runnable/types@0.1.0'; // import karman:runnable/types@0.1.0
  /**
  * Runs the step. `input` is the request body (or message payload); the output is stored in
  * the state under the step's name and, for the last step, is the response body.
  */
  export function run(input: Uint8Array): Uint8Array;
  export type Result<T, E> = { tag: 'ok', val: T } | { tag: 'err', val: E };
}
