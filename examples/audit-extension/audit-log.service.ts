import { Injectable, Logger } from '@nestjs/common';
import type { TenantId } from '@app/common';
import { ExtensionTable, TenantRegistry } from '@app/persistence';
import { OnGatewayEvent, type GatewayEventMap } from '../../apps/gateway/src/connection/gateway-events';
import type { AuditEntry } from './audit.messages';

/** The `audit_log` table in each tenant's registry.db. */
export const AUDIT_TABLE = {
  name: 'audit_log',
  migrate: [
    `CREATE TABLE IF NOT EXISTS audit_log (
       id INTEGER PRIMARY KEY AUTOINCREMENT,
       action TEXT NOT NULL,
       session_id TEXT,
       actor TEXT,
       detail TEXT,
       ts INTEGER NOT NULL
     )`,
    'CREATE INDEX IF NOT EXISTS audit_log_session ON audit_log (session_id, id)',
  ],
};

/** The session events audited: a turn's start and its end, whichever way it ended. */
const AUDITED_TURN_EVENTS: ReadonlySet<string> = new Set([
  'turn_started',
  'turn_complete',
  'turn_error',
  'turn_stopped',
]);

/** Writes an audit row for every session created or deleted and every turn started or ended; reads them back. */
@Injectable()
export class AuditLogService {
  private readonly logger = new Logger(AuditLogService.name);
  private readonly table: ExtensionTable;

  constructor(registry: TenantRegistry) {
    this.table = new ExtensionTable(registry, AUDIT_TABLE);
  }

  @OnGatewayEvent('session.created')
  onCreated(e: GatewayEventMap['session.created']): void {
    this.record(e.tenantId, 'session.created', e.sessionId, e.createdBy);
  }

  @OnGatewayEvent('session.deleted')
  onDeleted(e: GatewayEventMap['session.deleted']): void {
    this.record(e.tenantId, 'session.deleted', e.sessionId, null);
  }

  @OnGatewayEvent('session.event_published')
  onEvent(e: GatewayEventMap['session.event_published']): void {
    if (!AUDITED_TURN_EVENTS.has(e.event.type)) return;
    const turnId = 'turnId' in e.event ? (e.event.turnId ?? null) : null;
    this.record(e.tenantId, e.event.type, e.sessionId, null, turnId);
  }

  async list(tenantId: TenantId, sessionId: string | undefined, limit: number): Promise<AuditEntry[]> {
    const rows = await this.table.query<{
      id: number;
      action: string;
      session_id: string | null;
      actor: string | null;
      detail: string | null;
      ts: number;
    }>(
      tenantId,
      sessionId === undefined
        ? 'SELECT * FROM audit_log ORDER BY id DESC LIMIT ?'
        : 'SELECT * FROM audit_log WHERE session_id = ? ORDER BY id DESC LIMIT ?',
      sessionId === undefined ? [limit] : [sessionId, limit],
    );
    return rows.map((r) => ({
      id: r.id,
      action: r.action,
      sessionId: r.session_id,
      actor: r.actor,
      detail: r.detail,
      ts: r.ts,
    }));
  }

  /** Fire and forget: the emitting code does not wait for the audit write; a failure is logged. */
  private record(
    tenantId: TenantId,
    action: string,
    sessionId: string,
    actor: string | null,
    detail: string | null = null,
  ): void {
    this.table
      .insert(tenantId, { action, session_id: sessionId, actor, detail, ts: Date.now() })
      .catch((err: unknown) => this.logger.error(`audit write failed: ${(err as Error).message}`));
  }
}
