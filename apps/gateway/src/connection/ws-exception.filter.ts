import { Catch, type ArgumentsHost, type WsExceptionFilter } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { WebSocket } from 'ws';
import { sanitizeMessage, tracing } from '@app/common';
import { CloseCode, DomainError, TenantNotServedError, defaultErrorMessage } from '@app/protocol';
import type { AllConfig } from '../config';
import { ConnectionRegistry } from './connection-registry';

/**
 * The one place WebSocket failures become `error` events: domain errors keep their code and user-safe
 * message; anything else is logged with its detail and answered INTERNAL_ERROR. `requestId` is echoed.
 */
@Catch()
export class WsErrorFilter implements WsExceptionFilter {
  private readonly maxChars: number;

  constructor(
    private readonly registry: ConnectionRegistry,
    config: ConfigService<AllConfig, true>,
  ) {
    this.maxChars = config.get('app', { infer: true }).errorMessageMaxChars;
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const ws = host.switchToWs();
    const conn = this.registry.of(ws.getClient<WebSocket>());
    if (!conn) return;
    const data = ws.getData<{ requestId?: string; type?: string } | undefined>();
    const requestId = typeof data?.requestId === 'string' ? data.requestId : undefined;
    if (exception instanceof DomainError) {
      tracing.annotate('diminuendo.error.code', exception.code);
      conn.sendError(
        exception.code,
        sanitizeMessage(exception.message, this.maxChars),
        requestId,
        exception.hints,
      );
      if (exception instanceof TenantNotServedError) {
        conn.close(CloseCode.TENANT_NOT_SERVED, 'tenant not served by this instance');
      }
      return;
    }
    conn.log.error({ err: exception, type: data?.type }, 'message handler failed');
    tracing.annotate('diminuendo.error.code', 'INTERNAL_ERROR');
    conn.sendError('INTERNAL_ERROR', defaultErrorMessage('INTERNAL_ERROR'), requestId);
  }
}
