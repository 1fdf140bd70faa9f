/// <reference path="./karman-runnable-types.d.ts" />
declare module 'karman:runnable/graphql@0.1.0' {
  /**
   * POSTs `query` with `variables` (a JSON object, or "" for none) to `endpoint` and returns
   * the `data` member of the answer as JSON.
   */
  export function query(endpoint: string, query: string, variables: string): string;
  export type CapError = import('karman:runnable/types@0.1.0').CapError;
  /**
   * Why a GraphQL query failed.
   */
  export type QueryError = QueryErrorCapability | QueryErrorServer;
  /**
   * The request could not be made or was refused (see `cap-error`).
   */
  export interface QueryErrorCapability {
    tag: 'capability',
    val: CapError,
  }
  /**
   * The server answered with GraphQL errors: their messages.
   */
  export interface QueryErrorServer {
    tag: 'server',
    val: Array<string>,
  }
}
