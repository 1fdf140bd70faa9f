/**
 * The request or message that started the run, and the state shared by its steps.
 *
 * Absent values (a header, a parameter, a state key) are `undefined`.
 */
import { body, state } from 'karman:runnable/req@0.1.0';
import { toText } from './text.js';

export {
  method,
  url,
  id,
  body,
  header,
  headers,
  urlParam,
  queryParam,
  state,
  stateKeys,
  bodyField,
} from 'karman:runnable/req@0.1.0';

/** The request body as text (invalid UTF-8 replaced by U+FFFD). */
export function bodyText() {
  return toText(body());
}

/** A state value as text (invalid UTF-8 replaced by U+FFFD), or `undefined` when absent. */
export function stateText(key) {
  const value = state(key);
  return value === undefined ? undefined : toText(value);
}
