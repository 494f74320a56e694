import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { SpanKind, failSpan, tracing, type SessionId } from '@app/common';
import type { PersistenceEventMap } from '../persistence.events';

/** One durable event: the broadcast frame as `payload`. */
export interface EventRecord {
  seq: number;
  type: string;
  turnId: string | null;
  payload: string;
  ts: number;
}

/** One conversation message (a prompt, a steer, an assistant answer). */
export interface MessageRecord {
  id: string;
  turnId: string | null;
  role: string;
  content: string;
  metadata: string | null;
  userId: string | null;
  createdAt: number;
}

/** One turn's token usage and what it cost (micro-credits). */
export interface TurnUsageRecord {
  turnId: string;
  model: string | null;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  cost: number;
  createdAt: number;
}

export type WriteCommand =
  | { table: 'events'; sessionId: SessionId; row: EventRecord }
  | { table: 'messages'; sessionId: SessionId; row: MessageRecord }
  | { table: 'turn_usage'; sessionId: SessionId; row: TurnUsageRecord };

const COLUMNS: Record<WriteCommand['table'], { sql: string; fields: string[] }> = {
  events: {
    sql: 'INSERT OR IGNORE INTO events (seq, type, turn_id, payload, ts) VALUES ',
    fields: ['seq', 'type', 'turnId', 'payload', 'ts'],
  },
  messages: {
    sql: 'INSERT OR REPLACE INTO messages (id, turn_id, role, content, metadata, user_id, created_at) VALUES ',
    fields: ['id', 'turnId', 'role', 'content', 'metadata', 'userId', 'createdAt'],
  },
  turn_usage: {
    sql: 'INSERT OR REPLACE INTO turn_usage (turn_id, model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost, created_at) VALUES ',
    fields: [
      'turnId',
      'model',
      'inputTokens',
      'outputTokens',
      'cacheReadTokens',
      'cacheWriteTokens',
      'cost',
      'createdAt',
    ],
  },
};

/** Rows per INSERT statement: well under SQLite's bound-parameter limit for every table. */
const ROWS_PER_STATEMENT = 400;

export interface WriterStats {
  queued: number;
  flushes: number;
  transactions: number;
  statements: number;
  rows: number;
  failedTransactions: number;
  lastFlushMs: number;
}

export interface WriterOptions {
  batchMs: number;
  batchSize: number;
  /** Runs `fn` with the session's DataSource, serialised with other writes to it. */
  withSession: <T>(sessionId: SessionId, fn: (ds: DataSource) => Promise<T>) => Promise<T>;
  /** Told of each written batch (the store emits it as `persistence.flushed`). */
  onFlush?: (info: PersistenceEventMap['persistence.flushed']) => void;
}

/**
 * Batched, fire-and-forget writes of session data. A flush starts 50 ms after the first buffered
 * command or as soon as 100 are buffered; commands are grouped by session, each group written in one
 * transaction as multi-row INSERTs. `flush()` and `shutdown()` resolve once everything buffered before
 * the call is committed.
 */
export class BatchedWriter {
  private readonly logger = new Logger('BatchedWriter');
  private buffer: WriteCommand[] = [];
  private timer?: NodeJS.Timeout;
  /** True while a batch is being written; commands arriving meanwhile form the next batch. */
  private writing = false;
  /** Commands enqueued so far, and commands whose batch has been written (committed or failed). */
  private enqueued = 0;
  private done = 0;
  private readonly waiters: { target: number; resolve: () => void }[] = [];
  private closed = false;
  readonly stats: WriterStats = {
    queued: 0,
    flushes: 0,
    transactions: 0,
    statements: 0,
    rows: 0,
    failedTransactions: 0,
    lastFlushMs: 0,
  };
  /** Sessions with commands buffered or being written. */
  private readonly dirty = new Map<SessionId, number>();

  constructor(private readonly opts: WriterOptions) {}

  enqueue(cmd: WriteCommand): void {
    if (this.closed) throw new Error('writer is shut down');
    this.buffer.push(cmd);
    this.enqueued++;
    this.stats.queued = this.buffer.length;
    this.dirty.set(cmd.sessionId, (this.dirty.get(cmd.sessionId) ?? 0) + 1);
    if (this.writing) return; // picked up as soon as the current batch is written
    if (this.buffer.length >= this.opts.batchSize) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.opts.batchMs);
  }

  get queueDepth(): number {
    return this.buffer.length;
  }

  /** Resolves once every command enqueued before this call is written (committed, or failed and logged). */
  flush(): Promise<void> {
    const target = this.enqueued;
    if (this.done >= target) return Promise.resolve();
    const promise = new Promise<void>((resolve) => this.waiters.push({ target, resolve }));
    this.kick();
    return promise;
  }

  /** Flushes only if the session has pending writes (read-your-writes for replay). */
  async flushSession(sessionId: SessionId): Promise<void> {
    if (this.dirty.has(sessionId)) await this.flush();
  }

  /** Drops buffered commands of a session that is being deleted. */
  discard(sessionId: SessionId): void {
    const before = this.buffer.length;
    this.buffer = this.buffer.filter((c) => c.sessionId !== sessionId);
    this.done += before - this.buffer.length;
    this.stats.queued = this.buffer.length;
    this.dirty.delete(sessionId);
    this.settleWaiters();
  }

  async shutdown(): Promise<void> {
    await this.flush();
    this.closed = true;
    // A window may still be pending for commands discarded since: nothing is left for it to write.
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Writes the buffer now, unless a batch is already being written: then everything buffered meanwhile
   * is written as one batch right after it. Under load batches grow instead of queueing up.
   */
  private kick(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.writing || this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.stats.queued = 0;
    this.writing = true;
    void this.write(batch).finally(() => {
      this.writing = false;
      this.done += batch.length;
      this.settleWaiters();
      if (this.buffer.length > 0) this.kick();
    });
  }

  private settleWaiters(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (this.done >= this.waiters[i].target) this.waiters.splice(i, 1)[0].resolve();
    }
  }

  private async write(batch: WriteCommand[]): Promise<void> {
    const started = performance.now();
    // A root span per batch: a batch mixes the writes of many messages, so it is no one's child.
    const span = tracing.tracer?.startSpan('writer batch', { kind: SpanKind.INTERNAL, root: true });
    const failedBefore = this.stats.failedTransactions;
    const groups = new Map<SessionId, WriteCommand[]>();
    for (const cmd of batch) {
      let g = groups.get(cmd.sessionId);
      if (!g) groups.set(cmd.sessionId, (g = []));
      g.push(cmd);
    }
    await Promise.all(
      [...groups].map(async ([sessionId, cmds]) => {
        try {
          await this.opts.withSession(sessionId, (ds) => this.writeGroup(ds, cmds));
          this.stats.transactions++;
          this.stats.rows += cmds.length;
        } catch (err) {
          this.stats.failedTransactions++;
          this.logger.error(
            `write of ${cmds.length} rows for session ${sessionId} failed: ${(err as Error).message}`,
          );
        } finally {
          const left = (this.dirty.get(sessionId) ?? 0) - cmds.length;
          if (left > 0) this.dirty.set(sessionId, left);
          else this.dirty.delete(sessionId);
        }
      }),
    );
    this.stats.flushes++;
    this.stats.lastFlushMs = performance.now() - started;
    this.opts.onFlush?.({ durationMs: this.stats.lastFlushMs, rows: batch.length, sessions: groups.size });
    if (span) {
      const failed = this.stats.failedTransactions - failedBefore;
      span.setAttributes({
        'diminuendo.writer.rows': batch.length,
        'diminuendo.writer.sessions': groups.size,
        'diminuendo.writer.duration_ms': this.stats.lastFlushMs,
        'diminuendo.writer.failed_sessions': failed,
      });
      if (failed > 0) failSpan(span, new Error('write failed'));
      span.end();
    }
  }

  private async writeGroup(ds: DataSource, cmds: WriteCommand[]): Promise<void> {
    const byTable = new Map<WriteCommand['table'], WriteCommand['row'][]>();
    for (const c of cmds) {
      let rows = byTable.get(c.table);
      if (!rows) byTable.set(c.table, (rows = []));
      rows.push(c.row);
    }
    await ds.query('BEGIN');
    try {
      for (const [table, rows] of byTable) {
        const { sql, fields } = COLUMNS[table];
        const placeholder = `(${fields.map(() => '?').join(',')})`;
        for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
          const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
          const params: unknown[] = [];
          for (const row of chunk)
            for (const f of fields) params.push((row as unknown as Record<string, unknown>)[f] ?? null);
          await ds.query(sql + chunk.map(() => placeholder).join(','), params);
          this.stats.statements++;
        }
      }
      await ds.query('COMMIT');
    } catch (err) {
      await ds.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}
