/**
 * @karman/sdk: write Karman Runnables in JavaScript.
 *
 * A Runnable is a WebAssembly component of the `karman:runnable/runnable` world (see `wit/`
 * at the repository root), built from a JavaScript module by `karman-js-build`
 * (componentize-js). This package is a thin layer over the bindings componentize-js generates
 * (`karman:runnable/<interface>@0.1.0`): `runnable` and `RunError`, and one namespace per
 * capability. Capability calls that fail throw a `RunError` (denied → 403, not-found → 404,
 * invalid → 400, unavailable → 503, other → 500, the host's message unchanged).
 *
 *     import { req, runnable } from '@karman/sdk';
 *
 *     export const run = runnable(() => `Hello, ${req.urlParam('name') ?? 'world'}!`);
 *
 * Each namespace is its own module and the package has no side effects, so the bundle keeps
 * only the capabilities a Runnable calls, and the component imports only those.
 */
export { RunError, BatchError } from './errors.js';
export { runnable } from './runnable.js';
export * as req from './req.js';
export * as resp from './resp.js';
export * as cache from './cache.js';
export * as sql from './sql.js';
export * as http from './http.js';
export * as graphql from './graphql.js';
export * as log from './log.js';
export * as file from './file.js';
