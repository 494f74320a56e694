/**
 * Codes the admin HTTP API adds to the protocol's (admin-api.md "Errors"). Thrown by admin services and
 * guards, turned into `{ statusCode, code, message, details? }` by HttpErrorFilter.
 */
export const ADMIN_ERROR_CODES = ['VALIDATION_FAILED', 'API_KEY_NOT_FOUND', 'ORIGIN_NOT_ALLOWED'] as const;
export type AdminErrorCode = (typeof ADMIN_ERROR_CODES)[number];

export interface ValidationDetail {
  /** Dotted path of the offending field (`amount`, `limit`). */
  field: string;
  messages: string[];
}

export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string = adminErrorMessage(code),
    readonly details?: ValidationDetail[],
  ) {
    super(message);
    this.name = 'AdminError';
  }

  get status(): number {
    return adminErrorStatus(this.code);
  }
}

/** The switch fails the type check when a code lacks a status or a message. */
export function adminErrorStatus(code: AdminErrorCode): number {
  switch (code) {
    case 'VALIDATION_FAILED':
      return 400;
    case 'API_KEY_NOT_FOUND':
      return 404;
    case 'ORIGIN_NOT_ALLOWED':
      return 403;
  }
}

export function adminErrorMessage(code: AdminErrorCode): string {
  switch (code) {
    case 'VALIDATION_FAILED':
      return 'The request failed validation';
    case 'API_KEY_NOT_FOUND':
      return 'API key not found';
    case 'ORIGIN_NOT_ALLOWED':
      return 'Requests from this origin may not change anything';
  }
}
