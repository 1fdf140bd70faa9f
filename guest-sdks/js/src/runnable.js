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
 *
 * A handler that returns its output (not a promise) is run without one: StarlingMonkey
 * interprets every promise, and the bindings (tuned by karman-js-build) await `run`'s result
 * only when it is one (with them, a JavaScript step 0.82× with `reuse:`, 0.74× fresh:
 * bench/js-tuning.sh calls).
 */
export function runnable(handler) {
  return function run(input) {
    let output;
    try {
      output = handler(input);
      if (!isThenable(output)) return toBytes(output, 'the output of run');
    } catch (error) {
      throw failure(error);
    }
    return settle(output);
  };
}

/** The output of a handler that returned a promise, as `run`'s promise. */
async function settle(promise) {
  try {
    return toBytes(await promise, 'the output of run');
  } catch (error) {
    throw failure(error);
  }
}

function isThenable(value) {
  return value !== null && typeof value === 'object' && typeof value.then === 'function';
}

/** The `RunError` a step fails with when the handler threw `error`. */
function failure(error) {
  if (error instanceof RunError) return error;
  const capabilityError = capabilityErrorOf(error);
  if (capabilityError) return RunError.fromCapabilityError(capabilityError);
  log('error', `run threw ${error}${error?.stack ? `\n${error.stack}` : ''}`);
  const name = typeof error?.name === 'string' ? error.name : typeOf(error);
  return new RunError(500, `unhandled ${name}`);
}
