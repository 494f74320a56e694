/** @diminuendo/client — the browser (and universal) entry. */
export { Diminuendo, wsUrl } from './client';
export type {
  ConnectionState,
  DiminuendoOptions,
  ReconnectOptions,
  RequestOptions,
  WebSocketConstructor,
  WebSocketLike,
} from './client';
export { DiminuendoError, type ClientErrorCode } from './errors';
export { SessionHandle, type Turn, type TurnOutcome, type TurnStatus } from './session';
export { SessionList, type SessionListSnapshot } from './session-list';
export { SessionView } from './session-view';
export type * from './session-view';
export { backoffDelay, shutdownDelay, tokenExpiry, type BackoffOptions } from './backoff';
export { DURABLE_EVENT_TYPES } from './wire';
export type * from './wire';
