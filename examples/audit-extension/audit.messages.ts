import { Equals, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ClientMessageBase, MAX_ID_LENGTH } from '@app/protocol';
import type { ClientMessageExtension } from '../../apps/gateway/src/connection/message-extensions';

/** `audit_log {sessionId?, limit?}`: the tenant's audit rows, newest first. */
export class AuditLogMessage extends ClientMessageBase {
  @Equals('audit_log')
  readonly type = 'audit_log' as const;

  @IsOptional()
  @IsString()
  @MaxLength(MAX_ID_LENGTH)
  sessionId?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export interface AuditEntry {
  id: number;
  action: string;
  sessionId: string | null;
  actor: string | null;
  detail: string | null;
  ts: number;
}

/** The answer to `audit_log`. */
export interface AuditEntriesEvent {
  type: 'audit_entries';
  entries: AuditEntry[];
}

export const AUDIT_MESSAGES: ClientMessageExtension[] = [
  { type: 'audit_log', dto: AuditLogMessage, permission: 'tenant:admin' },
];
