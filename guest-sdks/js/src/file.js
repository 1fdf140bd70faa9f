/**
 * The app's static files: the directory the Directive's `static:` names (needs a `files`
 * grant, possibly confined to a sub-directory). Failures throw a `RunError` (an absolute name
 * or one with `..` → 400, outside the granted sub-directory → 403, missing → 404).
 */
import * as raw from 'karman:runnable/file@0.1.0';
import { capability } from './errors.js';
import { toText } from './text.js';

/** The contents of the static file `name`, a path relative to the static directory. */
export function getStatic(name) {
  return capability(() => raw.getStatic(name));
}

/** The contents of the static file `name` as text (invalid UTF-8 replaced by U+FFFD). */
export function getStaticText(name) {
  return toText(getStatic(name));
}
