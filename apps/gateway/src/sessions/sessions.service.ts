import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Injectable } from '@nestjs/common';
import type { SessionId, TenantId } from '@app/common';
import { SessionRow, TenantRegistry } from '@app/persistence';
import {
  DomainError,
  SessionNotFoundError,
  type SessionArchivedEvent,
  type SessionCreatedEvent,
  type SessionDeletedEvent,
  type SessionListEvent,
  type SessionRenamedEvent,
  type SessionUnarchivedEvent,
} from '@app/protocol';
import type { AuthIdentity } from '@app/auth';
import type { Connection } from '../connection/connection';
import { Broadcaster, tenantTopic } from '../connection/broadcaster';
import { GatewayEvents } from '../connection/gateway-events';
import { LiveSessions } from '../live/live-sessions';
import { Teardown } from '../live/teardown.service';
import { toSessionMeta } from './session-meta';

const DEFAULT_NAME = 'New session';

/**
 * Session metadata in the tenant registry: list, create, rename, archive, unarchive, delete. Each
 * change is answered to the caller and broadcast on the tenant topic to the tenant's other connections.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly registry: TenantRegistry,
    private readonly broadcaster: Broadcaster,
    private readonly live: LiveSessions,
    private readonly teardown: Teardown,
    private readonly events: GatewayEvents,
  ) {}

  async list(identity: AuthIdentity, includeArchived: boolean): Promise<SessionListEvent> {
    const rows = await this.registry.listSessions(identity.tenantId, includeArchived);
    return { type: 'session_list', sessions: rows.map((r) => this.meta(identity.tenantId, r)) };
  }

  async create(
    conn: Connection,
    identity: AuthIdentity,
    agentType: string,
    name?: string,
  ): Promise<SessionCreatedEvent> {
    const now = Date.now();
    const row = Object.assign(new SessionRow(), {
      id: randomUUID(),
      name: cleanName(name) ?? DEFAULT_NAME,
      agentType,
      status: 'inactive',
      archived: false,
      projectId: null,
      createdBy: identity.userId,
      instanceId: null,
      sandboxStatus: null,
      lastSeq: 0,
      createdAt: now,
      updatedAt: now,
      lastActivityAt: null,
    });
    await this.registry.insertSession(identity.tenantId, row);
    this.events.emit('session.created', {
      tenantId: identity.tenantId,
      sessionId: row.id as SessionId,
      createdBy: identity.userId,
    });
    return this.announce(conn, identity.tenantId, {
      type: 'session_created',
      session: this.meta(identity.tenantId, row),
    });
  }

  async rename(
    conn: Connection,
    identity: AuthIdentity,
    sessionId: string,
    name: string,
  ): Promise<SessionRenamedEvent> {
    const clean = cleanName(name);
    if (!clean) throw new DomainError('INVALID_MESSAGE', 'rename_session: name must not be blank');
    const row = await this.require(identity.tenantId, sessionId);
    const updatedAt = Date.now();
    await this.registry.updateSession(identity.tenantId, row.id, { name: clean, updatedAt });
    const session = this.meta(identity.tenantId, { ...row, name: clean, updatedAt });
    return this.announce(conn, identity.tenantId, {
      type: 'session_renamed',
      sessionId: row.id,
      name: clean,
      session,
    });
  }

  async archive(conn: Connection, identity: AuthIdentity, sessionId: string): Promise<SessionArchivedEvent> {
    const row = await this.require(identity.tenantId, sessionId);
    await this.teardown.deactivateById(row.id, 'archived');
    const updatedAt = Date.now();
    await this.registry.updateSession(identity.tenantId, row.id, { archived: true, updatedAt });
    const fresh = (await this.registry.findSession(identity.tenantId, row.id)) ?? {
      ...row,
      archived: true,
      updatedAt,
    };
    return this.announce(conn, identity.tenantId, {
      type: 'session_archived',
      sessionId: row.id,
      session: this.meta(identity.tenantId, fresh),
    });
  }

  async unarchive(
    conn: Connection,
    identity: AuthIdentity,
    sessionId: string,
  ): Promise<SessionUnarchivedEvent> {
    const row = await this.require(identity.tenantId, sessionId);
    const updatedAt = Date.now();
    await this.registry.updateSession(identity.tenantId, row.id, { archived: false, updatedAt });
    return this.announce(conn, identity.tenantId, {
      type: 'session_unarchived',
      sessionId: row.id,
      session: this.meta(identity.tenantId, { ...row, archived: false, updatedAt }),
    });
  }

  async delete(conn: Connection, identity: AuthIdentity, sessionId: string): Promise<SessionDeletedEvent> {
    const row = await this.require(identity.tenantId, sessionId);
    const event: SessionDeletedEvent = { type: 'session_deleted', sessionId: row.id };
    await this.teardown.forget(row.id);
    // Its viewers are unsubscribed (each hears session_deleted once, on the tenant topic) and its
    // ownership records dropped.
    this.events.emit('session.deleted', { tenantId: identity.tenantId, sessionId: row.id });
    await this.registry.deleteSession(identity.tenantId, row.id);
    await rm(this.registry.paths.sessionDir(row.id), { recursive: true, force: true });
    return this.announce(conn, identity.tenantId, event);
  }

  /** The tenant's session, or SESSION_NOT_FOUND (also for ids of other tenants and unsafe ids). */
  async require(tenantId: TenantId, sessionId: string): Promise<SessionRow & { id: SessionId }> {
    const row = await this.registry.findSession(tenantId, sessionId);
    if (!row) throw new SessionNotFoundError();
    return row;
  }

  private meta(tenantId: TenantId, row: SessionRow) {
    return toSessionMeta(tenantId, row, this.live.statusOf(row.id));
  }

  private announce<E extends Parameters<Broadcaster['publish']>[1]>(
    conn: Connection,
    tenantId: string,
    event: E,
  ): E {
    this.broadcaster.publish(tenantTopic(tenantId), event, { except: conn });
    return event;
  }
}

function cleanName(name: string | undefined): string | undefined {
  const trimmed = name?.trim();
  return trimmed ? trimmed.slice(0, 200) : undefined;
}
