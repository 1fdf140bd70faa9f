/**
 * The key-value cache (needs a `cache` grant). Values are bytes; strings are stored as UTF-8.
 */
import * as raw from 'karman:runnable/cache@0.1.0';
import { capability } from './errors.js';
import { toBytes, toText } from './text.js';

/** The value stored under `key`, or `undefined` when absent or expired. */
export function get(key) {
  return capability(() => raw.get(key));
}

/** The value stored under `key` as text, or `undefined` when absent or expired. */
export function getText(key) {
  const value = get(key);
  return value === undefined ? undefined : toText(value);
}

/**
 * Stores `value` (a `Uint8Array`, or a string as UTF-8) under `key`, replacing any earlier
 * value; with `ttlMs` it expires after that many milliseconds.
 */
export function set(key, value, { ttlMs } = {}) {
  const bytes = toBytes(value, 'cache: the value');
  capability(() => raw.set(key, bytes, ttlMs));
}

/** Removes `key`; removing an absent key is not an error. */
function remove(key) {
  capability(() => raw.delete(key));
}

export { remove as delete };
