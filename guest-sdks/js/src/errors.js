/**
 * `RunError`, the error a Runnable throws to fail with a status, and the mapping of the host's
 * capability errors (`cap-error`) to it.
 */

/** Status codes of the `cap-error` cases, as in the Rust SDK. */
const CAP_ERROR_CODES = {
  denied: 403,
  'not-found': 404,
  invalid: 400,
  unavailable: 503,
  other: 500,
};

/**
 * An error ending a step: `code` becomes the HTTP status (unless the Directive's `onErr`
 * continues the sequence) and `message` is returned to the client.
 */
export class RunError extends Error {
  constructor(code, message) {
    if (!Number.isInteger(code) || code < 0 || code > 0xffff) {
      throw new RangeError(`RunError: code must be an integer in 0..=65535, not ${code}`);
    }
    super(message);
    this.name = 'RunError';
    this.code = code;
    // componentize-js lowers the own `payload` of a value thrown by an export into its error
    // type: here the world's `run-error`.
    Object.defineProperty(this, 'payload', {
      get: () => ({ code: this.code, message: this.message }),
    });
  }

  /**
   * The run error for a `cap-error` (`{ tag, val }`), its message unchanged: denied → 403,
   * not-found → 404, invalid → 400, unavailable → 503, other → 500.
   */
  static fromCapabilityError({ tag, val }) {
    return new RunError(CAP_ERROR_CODES[tag] ?? 500, val);
  }
}

/** A failed `sql.batch`: the run error of the failing statement's `cap-error`, and its index. */
export class BatchError extends RunError {
  constructor(index, capabilityError) {
    const { code, message } = RunError.fromCapabilityError(capabilityError);
    super(code, message);
    this.name = 'BatchError';
    this.index = index;
  }
}

/** The `cap-error` carried by a binding's exception (a `ComponentError`), if it is one. */
export function capabilityErrorOf(error) {
  const payload = error?.payload;
  return typeof payload?.val === 'string' && Object.hasOwn(CAP_ERROR_CODES, payload.tag)
    ? payload
    : undefined;
}

/** Calls `f`, a capability call, turning a `cap-error` it throws into a `RunError`. */
export function capability(f) {
  try {
    return f();
  } catch (error) {
    const capabilityError = capabilityErrorOf(error);
    throw capabilityError ? RunError.fromCapabilityError(capabilityError) : error;
  }
}
