declare module 'karman:runnable/types@0.1.0' {
  /**
   * Why a Runnable's `run` failed.
   * 
   * `code` becomes the HTTP status of the response (a code outside 200..=599 is answered
   * with 500), unless the step's `onErr` in the Directive continues the sequence, in which
   * case `{"code": …, "message": …}` is stored in the state under the step's name.
   */
  export interface RunError {
    /**
     * An HTTP-style status code, e.g. 404.
     */
    code: number,
    /**
     * A human-readable reason, returned to the client in the error body.
     */
    message: string,
  }
  /**
   * Why a capability call failed.
   */
  export type CapError = CapErrorDenied | CapErrorNotFound | CapErrorInvalid | CapErrorUnavailable | CapErrorOther;
  /**
   * The Directive does not grant this component what the call needs; the text names the
   * capability (and the query, host or key prefix) that was refused.
   */
  export interface CapErrorDenied {
    tag: 'denied',
    val: string,
  }
  /**
   * The thing asked for does not exist, e.g. a query name the Directive does not declare.
   */
  export interface CapErrorNotFound {
    tag: 'not-found',
    val: string,
  }
  /**
   * The arguments are not acceptable, e.g. a wrong number of query parameters or an
   * invalid header name.
   */
  export interface CapErrorInvalid {
    tag: 'invalid',
    val: string,
  }
  /**
   * The backend could not be reached or did not answer in time; a retry may succeed.
   */
  export interface CapErrorUnavailable {
    tag: 'unavailable',
    val: string,
  }
  /**
   * Any other failure, with the backend's message.
   */
  export interface CapErrorOther {
    tag: 'other',
    val: string,
  }
}
