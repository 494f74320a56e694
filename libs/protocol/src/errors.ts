/** Stable machine codes of the `error` event (protocol.md §12.3). Changing one is a breaking change. */
export const ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_MESSAGE',
  'MESSAGE_TOO_LARGE',
  'RATE_LIMITED',
  'AUTH_RATE_LIMITED',
  'AUTH_FAILED',
  'PROTOCOL_VERSION_MISMATCH',
  'UNAUTHENTICATED',
  'SESSION_NOT_FOUND',
  'FORBIDDEN',
  'INSUFFICIENT_CREDITS',
  'BILLING_UNAVAILABLE',
  'TURN_IN_PROGRESS',
  'NO_ACTIVE_TURN',
  'INVALID_STATE',
  'REQUEST_NOT_FOUND',
  'SESSION_ARCHIVED',
  'AGENT_UNAVAILABLE',
  'UPSTREAM_ERROR',
  'FILE_NOT_FOUND',
  'FILE_TOO_LARGE',
  'TOO_MANY_ACTIVE_SESSIONS',
  'MEMBER_NOT_FOUND',
  'LAST_OWNER',
  'TENANT_NOT_SERVED',
  'INTERNAL_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The user-safe default text for each code; the switch fails the type check when a code lacks one. */
export function defaultErrorMessage(code: ErrorCode): string {
  switch (code) {
    case 'INVALID_JSON':
      return 'Frame is not valid JSON';
    case 'INVALID_MESSAGE':
      return 'Message does not match any client message schema';
    case 'MESSAGE_TOO_LARGE':
      return 'Message exceeds the maximum frame size';
    case 'RATE_LIMITED':
      return 'Too many messages; slow down';
    case 'AUTH_RATE_LIMITED':
      return 'Too many authentication attempts; retry later';
    case 'AUTH_FAILED':
      return 'Authentication failed';
    case 'PROTOCOL_VERSION_MISMATCH':
      return 'No protocol version in common';
    case 'UNAUTHENTICATED':
      return 'Authenticate first';
    case 'SESSION_NOT_FOUND':
      return 'Session not found';
    case 'FORBIDDEN':
      return 'Your role does not allow this action';
    case 'INSUFFICIENT_CREDITS':
      return 'Insufficient credits to start a turn';
    case 'BILLING_UNAVAILABLE':
      return 'Credits cannot be checked right now; try again later';
    case 'TURN_IN_PROGRESS':
      return 'A turn is already in progress';
    case 'NO_ACTIVE_TURN':
      return 'No turn is running';
    case 'INVALID_STATE':
      return 'Action not allowed in the current session state';
    case 'REQUEST_NOT_FOUND':
      return 'No pending request with that id';
    case 'SESSION_ARCHIVED':
      return 'Session is archived';
    case 'AGENT_UNAVAILABLE':
      return 'The agent is unavailable';
    case 'UPSTREAM_ERROR':
      return 'The agent service failed';
    case 'FILE_NOT_FOUND':
      return 'File not found';
    case 'FILE_TOO_LARGE':
      return 'The file is larger than the gateway serves';
    case 'TOO_MANY_ACTIVE_SESSIONS':
      return 'Too many active sessions in this tenant; stop one or wait until one goes idle';
    case 'MEMBER_NOT_FOUND':
      return 'Member not found';
    case 'LAST_OWNER':
      return 'The last owner can be neither removed nor demoted';
    case 'TENANT_NOT_SERVED':
      return "This gateway instance does not serve your tenant; connect through your tenant's route";
    case 'INTERNAL_ERROR':
      return 'Internal error';
  }
}

/**
 * A domain failure that carries its protocol code. Services throw these; one WebSocket filter and one
 * HTTP filter turn them into responses. `message` must be safe to show to a user.
 */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = defaultErrorMessage(code),
    readonly hints: { retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class SessionNotFoundError extends DomainError {
  constructor() {
    super('SESSION_NOT_FOUND');
  }
}

export class ForbiddenError extends DomainError {
  constructor(message?: string) {
    super('FORBIDDEN', message);
  }
}

/**
 * The authenticated tenant is assigned to another shard (SHARD_TENANTS, per-instance volumes). The
 * WebSocket is closed with CloseCode.TENANT_NOT_SERVED after the error; HTTP answers 421.
 */
export class TenantNotServedError extends DomainError {
  constructor() {
    super('TENANT_NOT_SERVED');
  }
}
