/**
 * GraphQL queries (needs a `graphql` grant listing the hosts), with the same credentials as
 * `http`. Errors the server answers become a 502 `RunError` carrying their messages, joined
 * by "; ".
 */
import * as raw from 'karman:runnable/graphql@0.1.0';
import { RunError } from './errors.js';

/**
 * POSTs `query` with `variables` (an object, a JSON text, or none) to `endpoint` and returns
 * the `data` member of the answer as JSON text.
 */
export function query(endpoint, query, variables = '') {
  const json = typeof variables === 'string' ? variables : JSON.stringify(variables);
  try {
    return raw.query(endpoint, query, json);
  } catch (error) {
    const payload = error?.payload;
    if (payload?.tag === 'server') throw new RunError(502, payload.val.join('; '));
    if (payload?.tag === 'capability') throw RunError.fromCapabilityError(payload.val);
    throw error;
  }
}
