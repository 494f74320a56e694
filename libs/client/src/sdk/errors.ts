import type { ErrorCode } from './wire';

/** Failures the SDK itself reports (they never come from the gateway). */
export type ClientErrorCode =
  /** No answer within the request's `timeoutMs`. */
  | 'TIMEOUT'
  /** The connection dropped after the request was sent and before its answer arrived. */
  | 'DISCONNECTED'
  /** Sent while not connected, with the offline queue full or turned off. */
  | 'NOT_CONNECTED'
  /** The client was closed (by `close()` or a refusal). */
  | 'CLOSED'
  /** The gateway refused the connection (HTTP 401/403 at the upgrade, or close 1002/1008). */
  | 'REFUSED';

/** A rejected request or a failed connection, with the protocol `code` (or an SDK code). */
export class DiminuendoError extends Error {
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    readonly retryAfterMs?: number,
    readonly requestId?: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'DiminuendoError';
  }
}
