import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { Conn, type AuthedConnection } from '../../apps/gateway/src/connection/connection-registry';
import { ProtocolGateway } from '../../apps/gateway/src/connection/ws-gateway.decorator';
import { AuditLogService } from './audit-log.service';
import type { AuditEntriesEvent, AuditLogMessage } from './audit.messages';

/** `audit_log` → `audit_entries` (permission `tenant:admin`, enforced by the core message guard). */
@ProtocolGateway()
export class AuditGateway {
  constructor(private readonly audit: AuditLogService) {}

  @SubscribeMessage('audit_log')
  async list(
    @Conn() conn: AuthedConnection,
    @MessageBody() msg: AuditLogMessage,
  ): Promise<AuditEntriesEvent> {
    const entries = await this.audit.list(conn.identity.tenantId, msg.sessionId, msg.limit ?? 50);
    return { type: 'audit_entries', entries };
  }
}
