import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { isFencedError } from '@app/persistence';
import type { Response } from 'express';
import { CreditStoreUnavailableError, InvalidAmountError } from '@app/billing';
import { DomainError, type ErrorCode } from '@app/protocol';
import { AdminError } from './common/admin-error';
import { InvalidCursorError } from './usage/usage.service';

const STATUS: Partial<Record<ErrorCode, number>> = {
  AUTH_FAILED: 401,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  SESSION_NOT_FOUND: 404,
  MEMBER_NOT_FOUND: 404,
  FILE_NOT_FOUND: 404,
  LAST_OWNER: 409,
  INSUFFICIENT_CREDITS: 402,
  BILLING_UNAVAILABLE: 503,
  RATE_LIMITED: 429,
  AUTH_RATE_LIMITED: 429,
  INVALID_MESSAGE: 400,
  AGENT_UNAVAILABLE: 503,
  UPSTREAM_ERROR: 502,
  // Misdirected Request: the tenant is served by another shard (SHARD_TENANTS).
  TENANT_NOT_SERVED: 421,
};

const HTTP_CODES: Record<number, string> = {
  // Nest's own 400s (a body that is not JSON) fail validation like a DTO would.
  400: 'VALIDATION_FAILED',
  401: 'AUTH_FAILED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

/** Every non-2xx HTTP answer has the body `{ statusCode, code, message }` (admin-api.md). */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    if (exception instanceof InvalidAmountError) {
      exception = new AdminError('VALIDATION_FAILED', exception.message, [
        { field: 'amount', messages: [exception.message] },
      ]);
    } else if (exception instanceof CreditStoreUnavailableError) {
      exception = new DomainError('BILLING_UNAVAILABLE');
    } else if (exception instanceof InvalidCursorError) {
      exception = new AdminError('VALIDATION_FAILED', exception.message, [
        { field: 'before', messages: [exception.message] },
      ]);
    }
    if (exception instanceof AdminError) {
      const statusCode = exception.status;
      res.status(statusCode).json({
        statusCode,
        code: exception.code,
        message: exception.message,
        ...(exception.details ? { details: exception.details } : {}),
      });
      return;
    }
    if (exception instanceof DomainError) {
      const statusCode = STATUS[exception.code] ?? 400;
      res
        .status(statusCode)
        .json({ statusCode, code: exception.code, message: exception.message, ...exception.hints });
      return;
    }
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const body = exception.getResponse();
      if (typeof body === 'object' && body && 'status' in body && 'details' in body) {
        // Terminus health results keep their own shape.
        res.status(statusCode).json(body);
        return;
      }
      const obj = (typeof body === 'object' && body ? body : { message: body }) as Record<string, unknown>;
      const code = typeof obj.code === 'string' ? obj.code : (HTTP_CODES[statusCode] ?? 'ERROR');
      const message = Array.isArray(obj.message)
        ? obj.message.join('; ')
        : String(obj.message ?? exception.message);
      const details =
        obj.details ?? (code === 'VALIDATION_FAILED' ? [{ field: 'body', messages: [message] }] : undefined);
      res.status(statusCode).json({ statusCode, code, message, ...(details ? { details } : {}) });
      return;
    }
    if (isFencedError(exception)) {
      // Lease mode: the tenant moved to another instance while this request was being served.
      res.setHeader('retry-after', '1');
      res.status(503).json({ statusCode: 503, code: 'TENANT_UNAVAILABLE', message: 'Tenant moved; retry' });
      return;
    }
    this.logger.error(exception);
    res.status(500).json({ statusCode: 500, code: 'INTERNAL_ERROR', message: 'Internal error' });
  }
}
