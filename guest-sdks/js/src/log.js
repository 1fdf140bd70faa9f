/**
 * Logging into the host log, tagged with the component and the request id (`console.log`
 * writes nowhere: the build disables stdio).
 */
import { log as write } from 'karman:runnable/log@0.1.0';

/** Writes `message` at `level`: 'trace', 'debug', 'info', 'warn' or 'error'. */
export function log(level, message) {
  write(level, String(message));
}

/** Logs at `trace`. */
export const trace = (message) => log('trace', message);
/** Logs at `debug`. */
export const debug = (message) => log('debug', message);
/** Logs at `info`. */
export const info = (message) => log('info', message);
/** Logs at `warn`. */
export const warn = (message) => log('warn', message);
/** Logs at `error`. */
export const error = (message) => log('error', message);
