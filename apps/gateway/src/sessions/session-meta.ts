import type { SessionRow } from '@app/persistence';
import type { SessionMeta, SessionState } from '@app/protocol';

export function toSessionMeta(tenantId: string, row: SessionRow, liveStatus?: SessionState): SessionMeta {
  return {
    id: row.id,
    tenantId,
    name: row.name,
    agentType: row.agentType,
    status: liveStatus ?? (row.status as SessionState),
    archived: Boolean(row.archived),
    projectId: row.projectId ?? null,
    createdBy: row.createdBy,
    createdAt: Number(row.createdAt),
    updatedAt: Number(row.updatedAt),
    lastActivityAt:
      row.lastActivityAt === null || row.lastActivityAt === undefined ? null : Number(row.lastActivityAt),
  };
}
