/** Bytes and text (UTF-8), shared by the modules of the SDK. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Whether `value` is a `Uint8Array`. The bindings live in a realm of their own, so the arrays
 * they return are not `instanceof` this realm's `Uint8Array`.
 */
export function isBytes(value) {
  return ArrayBuffer.isView(value) && value[Symbol.toStringTag] === 'Uint8Array';
}

/** `value` as bytes: a `Uint8Array` as is, a string as UTF-8. */
export function toBytes(value, what = 'value') {
  if (isBytes(value)) return value;
  if (typeof value === 'string') return encoder.encode(value);
  throw new TypeError(`${what} must be a Uint8Array or a string, not ${typeOf(value)}`);
}

/** `bytes` as text, invalid UTF-8 replaced by U+FFFD (like Rust's `from_utf8_lossy`). */
export function toText(bytes) {
  return decoder.decode(bytes);
}

/** A short description of `value`'s type, for error messages. */
export function typeOf(value) {
  return value === null ? 'null' : (value?.constructor?.name ?? typeof value);
}
