/**
 * Outbound HTTP (needs an `http` grant listing the hosts). Credentials the Directive
 * configures for a domain are added by the host; the component never sees them.
 *
 * Headers are `[name, value]` pairs or a plain object; a body is a `Uint8Array` or a string
 * (sent as UTF-8).
 */
import * as raw from 'karman:runnable/http@0.1.0';
import { capability } from './errors.js';
import { toBytes, toText } from './text.js';

/** The response to an outbound request (after redirects). */
class HttpResponse {
  constructor({ status, headers, body }) {
    /** The status code. */
    this.status = status;
    /** The headers, as `[name, value]` pairs. */
    this.headers = headers;
    /** The body bytes. */
    this.body = body;
  }

  /** The body as text (invalid UTF-8 replaced by U+FFFD). */
  text() {
    return toText(this.body);
  }

  /** The first value of a header (names compare case-insensitively), or `undefined`. */
  header(name) {
    const wanted = name.toLowerCase();
    return this.headers.find(([n]) => n.toLowerCase() === wanted)?.[1];
  }
}

/** Sends `{ method, url, headers, body, timeoutMs }` and waits for the whole response. */
export function send({ method = 'GET', url, headers = [], body = new Uint8Array(), timeoutMs }) {
  const request = {
    method,
    url,
    headers: Array.isArray(headers) ? headers : Object.entries(headers),
    body: toBytes(body, 'http: the body'),
    timeoutMs,
  };
  return new HttpResponse(capability(() => raw.send(request)));
}

/** Sends a `GET`. */
export function get(url, headers = []) {
  return send({ method: 'GET', url, headers });
}

/** Sends a `POST` of `body` with its content type. */
export function post(url, contentType, body) {
  return send({ method: 'POST', url, headers: [['content-type', contentType]], body });
}
