declare module 'karman:runnable/log@0.1.0' {
  /**
   * Writes `message` at `level`.
   */
  export function log(level: Level, message: string): void;
  /**
   * Severity, as in the host's log.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'trace' | 'debug' | 'info' | 'warn' | 'error';
}
