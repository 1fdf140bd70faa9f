/**
 * Status and headers of the HTTP response. Every step of a sequence writes to the same
 * response; a later call overrides an earlier one.
 */
import * as raw from 'karman:runnable/resp@0.1.0';
import { capability } from './errors.js';

/** Sets the status of a successful response (100..=599; default 200). */
export function setStatus(code) {
  capability(() => raw.setStatus(code));
}

/** Sets a response header, replacing any earlier value. */
export function setHeader(name, value) {
  capability(() => raw.setHeader(name, value));
}
