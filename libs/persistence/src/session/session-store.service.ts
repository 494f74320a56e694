import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { DataSource } from 'typeorm';
import type { SessionId } from '@app/common';
import { DataPaths } from '../data-paths';
import { DataSourceRegistry, openSqlite } from '../datasource-registry';
import { SessionInitial1764000000101 } from '../migrations/session-1-initial';
import { PERSISTENCE_OPTIONS } from '../persistence.module-definition';
import type { PersistenceEventMap } from '../persistence.events';
import type { PersistenceConfig } from '../persistence.config';
import { BatchedWriter, type MessageRecord, type WriteCommand } from './batched-writer';
import { FencedError, installFence, type WriteFence } from '../write-fence';
import { SESSION_ENTITIES } from './entities';

export const SESSION_MIGRATIONS = [SessionInitial1764000000101];

export interface StoredEvent {
  seq: number;
  payload: string;
}

/** A message as read back (the stored record). */
export type StoredMessage = MessageRecord;

/**
 * Each session's `session.db` (events, messages, turn usage): the batched writer for everything the
 * event pipeline persists, and the reads behind replay and history, which never miss an event already
 * broadcast (the session is flushed first when it has writes in flight).
 *
 * Callers pass a SessionId, i.e. an id the tenant registry has vouched for.
 */
@Injectable()
export class SessionStore {
  readonly paths: DataPaths;
  private readonly handles: DataSourceRegistry;
  readonly writer: BatchedWriter;
  private fence?: WriteFence;
  /** The token each open session database was last claimed with. */
  private readonly claimed = new WeakMap<DataSource, number>();

  /** `events`: where each writer batch is announced as `persistence.flushed` (when the application has an emitter). */
  constructor(@Inject(PERSISTENCE_OPTIONS) config: PersistenceConfig, @Optional() events?: EventEmitter2) {
    this.paths = new DataPaths(config.dataDir);
    this.handles = new DataSourceRegistry(
      config.sessionCache,
      (sessionId) =>
        openSqlite(this.paths.sessionFile(sessionId), {
          entities: SESSION_ENTITIES,
          migrations: SESSION_MIGRATIONS,
        }),
      (ds) => this.writer.release(ds),
    );
    this.writer = new BatchedWriter({
      batchMs: config.writeBatchMs,
      batchSize: config.writeBatchSize,
      withSession: (id, fn) => this.write(id, fn),
      onFlush: events
        ? (info: PersistenceEventMap['persistence.flushed']) => events.emit('persistence.flushed', info)
        : undefined,
    });
  }

  /** Refuses session writes once this instance may no longer write them (tenant ownership leases). */
  useFence(fence: WriteFence): void {
    this.fence = fence;
  }

  /** Closes a session's database without touching its files (ownership moved to another instance). */
  async close(sessionId: SessionId): Promise<void> {
    await this.handles.close(sessionId);
  }

  /**
   * Every session write, in lease mode fenced like the registries: the token is taken inside the
   * database's write queue, the file is claimed with it (`installFence`) when the handle's token differs,
   * and the triggers then refuse the statements of any older token.
   */
  private write<T>(sessionId: SessionId, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    const fence = this.fence;
    if (!fence) return this.handles.write(sessionId, fn);
    return this.handles.write(sessionId, async (ds) => {
      const token = await fence.sessionWriteToken(sessionId);
      if (token === 0) throw new FencedError(`session ${sessionId}`);
      if (token !== undefined) await this.claim(ds, sessionId, token);
      return fn(ds);
    });
  }

  /** Claims a session's database for a lease token (a new owner, before anything else writes it). */
  claimSession(sessionId: SessionId, token: number): Promise<void> {
    return this.handles.write(sessionId, (ds) => this.claim(ds, sessionId, token));
  }

  private async claim(ds: DataSource, sessionId: SessionId, token: number): Promise<void> {
    if (this.claimed.get(ds) === token) return;
    await installFence(ds, token, `session ${sessionId}`);
    this.claimed.set(ds, token);
  }

  enqueue(cmd: WriteCommand): void {
    this.writer.enqueue(cmd);
  }

  /** Queues a conversation message (a prompt, a steer, an assistant answer) with a new id. */
  appendMessage(sessionId: SessionId, message: Omit<StoredMessage, 'id'>): void {
    this.writer.enqueue({ table: 'messages', sessionId, row: { id: randomUUID(), ...message } });
  }

  /** Durable events with seq > afterSeq, ascending, at most `limit` (+1 to tell whether more exist). */
  async events(
    sessionId: SessionId,
    afterSeq: number,
    limit: number,
  ): Promise<{ events: StoredEvent[]; hasMore: boolean }> {
    await this.writer.flushSession(sessionId);
    const rows: StoredEvent[] = await this.handles.use(sessionId, (ds) =>
      ds.query('SELECT seq, payload FROM events WHERE seq > ? ORDER BY seq ASC LIMIT ?', [
        afterSeq,
        limit + 1,
      ]),
    );
    const hasMore = rows.length > limit;
    return { events: hasMore ? rows.slice(0, limit) : rows, hasMore };
  }

  /** The highest persisted seq (0 when none). */
  async maxSeq(sessionId: SessionId): Promise<number> {
    const [row] = await this.handles.use(sessionId, (ds) => ds.query('SELECT MAX(seq) AS m FROM events'));
    return Number(row?.m ?? 0);
  }

  /**
   * A page of messages older than `before` (a message id or a timestamp), newest first in the query,
   * returned oldest first.
   */
  async messages(
    sessionId: SessionId,
    limit: number,
    before?: string | number,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    await this.writer.flushSession(sessionId);
    const rows: (StoredMessage & { rowid: number })[] = await this.handles.use(sessionId, async (ds) => {
      const cols =
        'rowid, id, turn_id AS turnId, role, content, metadata, user_id AS userId, created_at AS createdAt';
      if (before === undefined) {
        return ds.query(`SELECT ${cols} FROM messages ORDER BY created_at DESC, rowid DESC LIMIT ?`, [
          limit + 1,
        ]);
      }
      if (typeof before === 'number' || /^\d+$/.test(before)) {
        return ds.query(
          `SELECT ${cols} FROM messages WHERE created_at < ? ORDER BY created_at DESC, rowid DESC LIMIT ?`,
          [Number(before), limit + 1],
        );
      }
      const [anchor] = await ds.query('SELECT rowid, created_at AS createdAt FROM messages WHERE id = ?', [
        before,
      ]);
      if (!anchor) return [];
      return ds.query(
        `SELECT ${cols} FROM messages WHERE created_at < ? OR (created_at = ? AND rowid < ?) ORDER BY created_at DESC, rowid DESC LIMIT ?`,
        [anchor.createdAt, anchor.createdAt, anchor.rowid, limit + 1],
      );
    });
    const hasMore = rows.length > limit;
    const page = (hasMore ? rows.slice(0, limit) : rows).reverse();
    return {
      messages: page.map(({ rowid: _r, ...m }) => ({ ...m, createdAt: Number(m.createdAt) })),
      hasMore,
    };
  }

  /** Per-turn usage rows of the session. */
  usage(sessionId: SessionId): Promise<Record<string, unknown>[]> {
    return this.handles.use(sessionId, (ds) => ds.query('SELECT * FROM turn_usage ORDER BY created_at ASC'));
  }

  /** Closes the session's handle and drops its pending writes (before its directory is removed). */
  async forget(sessionId: SessionId): Promise<void> {
    this.writer.discard(sessionId);
    await this.writer.flush();
    await this.handles.close(sessionId);
  }

  /** Flushes every buffered write and closes every session database. */
  async shutdown(): Promise<void> {
    await this.writer.shutdown();
    await this.handles.closeAll();
  }
}
