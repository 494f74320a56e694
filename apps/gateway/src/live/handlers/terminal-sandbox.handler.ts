import { Injectable, Logger } from '@nestjs/common';
import { TenantRegistry } from '@app/persistence';
import type { EventHandler, HandlerContext } from './handler';

/** Terminal output, sandbox lifecycle (kept on the session row) and workspace file changes. */
@Injectable()
export class TerminalSandboxHandler implements EventHandler {
  private readonly logger = new Logger(TerminalSandboxHandler.name);
  readonly types = [
    'terminal.stream',
    'terminal.complete',
    'sandbox_init',
    'sandbox_provisioning',
    'sandbox_ready',
    'sandbox_removed',
    'file_changed',
  ] as const;

  constructor(private readonly registry: TenantRegistry) {}

  handle({ active, event, publish }: HandlerContext): void {
    if (event.type.startsWith('sandbox_')) {
      const status = event.type.slice('sandbox_'.length);
      active.noteSandbox(status);
      void this.registry
        .updateSession(active.tenantId, active.sessionId, { sandboxStatus: status })
        .catch((err: Error) => this.logger.warn(`sandbox status not saved: ${err.message}`));
    }
    publish(event);
  }
}
