import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { ApiKeyRow } from './api-key.entity';
import { CREDIT_ENTITIES } from './credit.entities';

/** One row per session of the tenant. Times are unix milliseconds. */
@Entity({ name: 'sessions' })
@Index('idx_sessions_archived_updated', ['archived', 'updatedAt'])
@Index('idx_sessions_status', ['status'])
export class SessionRow {
  @PrimaryColumn('text') id!: string;
  @Column('text', { default: '' }) name!: string;
  @Column('text', { name: 'agent_type' }) agentType!: string;
  @Column('text', { default: 'inactive' }) status!: string;
  @Column('boolean', { default: false }) archived!: boolean;
  @Column('text', { name: 'project_id', nullable: true }) projectId!: string | null;
  @Column('text', { name: 'created_by' }) createdBy!: string;
  @Column('text', { name: 'instance_id', nullable: true }) instanceId!: string | null;
  @Column('text', { name: 'sandbox_status', nullable: true }) sandboxStatus!: string | null;
  /** Highest seq handed out (or reserved) for this session, ephemeral events included. */
  @Column('integer', { name: 'last_seq', default: 0 }) lastSeq!: number;
  @Column('integer', { name: 'created_at' }) createdAt!: number;
  @Column('integer', { name: 'updated_at' }) updatedAt!: number;
  @Column('integer', { name: 'last_activity_at', nullable: true }) lastActivityAt!: number | null;
}

@Entity({ name: 'members' })
@Index('idx_members_email', ['email'])
export class MemberRow {
  @PrimaryColumn('text', { name: 'user_id' }) userId!: string;
  @Column('text', { nullable: true }) email!: string | null;
  @Column('text') role!: string;
  @Column('text', { name: 'added_by', nullable: true }) addedBy!: string | null;
  @Column('integer', { name: 'created_at' }) createdAt!: number;
  @Column('integer', { name: 'updated_at' }) updatedAt!: number;
}

export const REGISTRY_ENTITIES = [SessionRow, MemberRow, ApiKeyRow, ...CREDIT_ENTITIES];
