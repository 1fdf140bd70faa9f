/** `runnable`, which makes a handler the component's `run` export. */
import { log } from 'karman:runnable/log@0.1.0';
import { RunError, capabilityErrorOf } from './errors.js';
import { toBytes, typeOf } from './text.js';

/**
 * Wraps `handler(input)` as the `run` export: `export const run = runnable((input) => …)`.
 *
 * `input` is the request body (a `Uint8Array`); the handler returns the output as a
 * `Uint8Array` or a string (UTF-8), or a promise of one. A `RunError` it throws fails the step
 * with that code and message, as does an uncaught capability error (with the SDK's mapping).
 * Any other exception fails the step with 500 `unhandled <name>`, its stack going to the host
 * log at `error` level (as the Python SDK does).
 */
export function runnable(handler) {
  return async function run(input) {
    try {
      return toBytes(await handler(input), 'the output of run');
    } catch (error) {
      if (error instanceof RunError) throw error;
      const capabilityError = capabilityErrorOf(error);
      if (capabilityError) throw RunError.fromCapabilityError(capabilityError);
      log('error', `run threw ${error}${error?.stack ? `\n${error.stack}` : ''}`);
      const name = typeof error?.name === 'string' ? error.name : typeOf(error);
      throw new RunError(500, `unhandled ${name}`);
    }
  };
}
