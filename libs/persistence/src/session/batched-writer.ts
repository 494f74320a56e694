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

/**
 * One statement per table, whatever the row count: the rows travel as one JSON array parameter and
 * `json_each` unpacks them inside SQLite, so a statement is one round trip to the database thread and
 * atomic by itself (SQLite's bound-parameter limit never applies). `->>` yields INTEGER, TEXT or NULL.
 * Text holding a NUL character (which SQLite's JSON functions cut short) is bound as parameters instead.
 */
const STATEMENTS: Record<WriteCommand['table'], Statement> = {
  events: insert('INSERT OR IGNORE INTO events', {
    seq: 'seq',
    type: 'type',
    turn_id: 'turnId',
    payload: 'payload',
    ts: 'ts',
  }),
  messages: insert('INSERT OR REPLACE INTO messages', {
    id: 'id',
    turn_id: 'turnId',
    role: 'role',
    content: 'content',
    metadata: 'metadata',
    user_id: 'userId',
    created_at: 'createdAt',
  }),
  turn_usage: insert('INSERT OR REPLACE INTO turn_usage', {
    turn_id: 'turnId',
    model: 'model',
    input_tokens: 'inputTokens',
    output_tokens: 'outputTokens',
    cache_read_tokens: 'cacheReadTokens',
    cache_write_tokens: 'cacheWriteTokens',
    cost: 'cost',
    created_at: 'createdAt',
  }),
};

/** `columns`: column name → record field. */
function insert(into: string, columns: Record<string, string>): Statement {
  const names = Object.keys(columns);
  const values = names.map((_, i) => `value->>${i}`).join(', ');
  return {
    json: `${into} (${names.join(', ')}) SELECT ${values} FROM json_each(?)`,
    values: `${into} (${names.join(', ')}) VALUES `,
    placeholder: `(${names.map(() => '?').join(',')})`,
    fields: Object.values(columns),
  };
}

interface Statement {
  /** The rows as one JSON array parameter. */
  json: string;
  /** Bound parameters, one placeholder group per row: for text holding a NUL, which JSON text cannot carry into SQLite. */
  values: string;
  placeholder: string;
  fields: string[];
}

/** Rows per bound INSERT: within SQLite's limit of 32,766 parameters for every table. */
const ROWS_PER_BOUND_STATEMENT = 2_000;

/** The statements writing `rows` to a table: one, unless a text field holds a NUL (then bound, chunked). */
function statementsFor(
  table: WriteCommand['table'],
  rows: WriteCommand['row'][],
): { sql: string; params: unknown[]; prepared?: boolean }[] {
  const { json, values, placeholder, fields } = STATEMENTS[table];
  const tuples = rows.map((row) => fields.map((f) => (row as unknown as Record<string, unknown>)[f] ?? null));
  const text = JSON.stringify(tuples);
  // JSON writes a NUL as the escape `\u0000`, so one scan of the text finds any (a literal backslash
  // followed by "u0000" matches too, and is merely written the slower way).
  if (!text.includes('\\u0000')) return [{ sql: json, params: [text], prepared: true }];
  const out: { sql: string; params: unknown[]; prepared?: boolean }[] = [];
  for (let i = 0; i < tuples.length; i += ROWS_PER_BOUND_STATEMENT) {
    const chunk = tuples.slice(i, i + ROWS_PER_BOUND_STATEMENT);
    out.push({ sql: values + chunk.map(() => placeholder).join(','), params: chunk.flat() });
  }
  return out;
}

/** The `sqlite3` handle under a TypeORM DataSource (its single connection). */
interface RawDatabase {
  run(sql: string, params: unknown[], callback: (err: Error | null) => void): void;
  prepare(sql: string, callback: (err: Error | null) => void): RawStatement;
}

interface RawStatement {
  run(params: unknown[], callback: (err: Error | null) => void): void;
  finalize(callback: () => void): void;
}

function run(db: RawDatabase, sql: string, params: unknown[] = []): Promise<void> {
  return new Promise((resolve, reject) => db.run(sql, params, (err) => (err ? reject(err) : resolve())));
}

export interface WriterStats {
  /** Commands buffered, not yet taken by a write. */
  queued: number;
  /** Writes started and finished (one per session and window: a transaction, committed or not). */
  flushes: number;
  transactions: number;
  statements: number;
  rows: number;
  failedTransactions: number;
  lastFlushMs: number;
}

export interface WriterOptions {
  /** The window: a session's first buffered command is written at most this long after it arrived. */
  batchMs: number;
  /** A session with this many commands buffered is written at once, without waiting for the window. */
  batchSize: number;
  /** Runs `fn` with the session's DataSource, serialised with other writes to it. */
  withSession: <T>(sessionId: SessionId, fn: (ds: DataSource) => Promise<T>) => Promise<T>;
  /** Told of each write (the store emits it as `persistence.flushed`). */
  onFlush?: (info: PersistenceEventMap['persistence.flushed']) => void;
}

/** One session's queue: commands buffered, at most one write in flight, and the flushes waiting. */
interface Lane {
  readonly sessionId: SessionId;
  pending: WriteCommand[];
  /** When the oldest buffered command arrived (the window runs from there). */
  firstAt: number;
  timer?: NodeJS.Timeout;
  writing: boolean;
  /** Commands enqueued so far, and commands written (committed, or failed and logged); in order. */
  enqueued: number;
  done: number;
  waiters: { target: number; resolve: () => void }[];
}

/**
 * Batched, fire-and-forget writes of session data, pipelined per session. Each session has its own
 * queue: its first buffered command opens a window of `batchMs` (or `batchSize` commands close it at
 * once), then everything buffered is written as one transaction, one statement per table; commands
 * arriving meanwhile wait for that write and its window. Sessions never wait for one another: a slow
 * or failing database holds up only its own session. `flush()` and `shutdown()` resolve once everything
 * buffered before the call is written; `flushSession()` waits for one session only.
 */
export class BatchedWriter {
  private readonly logger = new Logger('BatchedWriter');
  private readonly lanes = new Map<SessionId, Lane>();
  /** Prepared statements per open session database (its sqlite3 handle). */
  private readonly prepared = new WeakMap<RawDatabase, Map<string, RawStatement>>();
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

  constructor(private readonly opts: WriterOptions) {}

  enqueue(cmd: WriteCommand): void {
    if (this.closed) throw new Error('writer is shut down');
    let lane = this.lanes.get(cmd.sessionId);
    if (!lane) {
      lane = {
        sessionId: cmd.sessionId,
        pending: [],
        firstAt: 0,
        writing: false,
        enqueued: 0,
        done: 0,
        waiters: [],
      };
      this.lanes.set(cmd.sessionId, lane);
    }
    if (lane.pending.length === 0) lane.firstAt = performance.now();
    lane.pending.push(cmd);
    lane.enqueued++;
    this.stats.queued++;
    if (!lane.writing) this.schedule(lane);
  }

  get queueDepth(): number {
    return this.stats.queued;
  }

  /** Resolves once every command enqueued before this call is written (committed, or failed and logged). */
  async flush(): Promise<void> {
    await Promise.all([...this.lanes.values()].map((lane) => this.flushLane(lane)));
  }

  /** Flushes one session only, if it has writes pending (read-your-writes for replay). */
  async flushSession(sessionId: SessionId): Promise<void> {
    const lane = this.lanes.get(sessionId);
    if (lane) await this.flushLane(lane);
  }

  /** Drops buffered commands of a session that is being deleted (a write in flight still finishes). */
  discard(sessionId: SessionId): void {
    const lane = this.lanes.get(sessionId);
    if (!lane) return;
    this.stats.queued -= lane.pending.length;
    lane.done += lane.pending.length;
    lane.pending = [];
    clearTimeout(lane.timer);
    lane.timer = undefined;
    this.settle(lane);
  }

  async shutdown(): Promise<void> {
    await this.flush();
    this.closed = true;
    for (const lane of this.lanes.values()) clearTimeout(lane.timer);
    this.lanes.clear();
  }

  private flushLane(lane: Lane): Promise<void> {
    const target = lane.enqueued;
    if (lane.done >= target) return Promise.resolve();
    const promise = new Promise<void>((resolve) => lane.waiters.push({ target, resolve }));
    this.start(lane);
    return promise;
  }

  /** Starts the lane's write now when its window is over or its batch full, else arms its timer. */
  private schedule(lane: Lane): void {
    if (lane.pending.length === 0) return;
    const wait = this.opts.batchMs - (performance.now() - lane.firstAt);
    if (lane.pending.length >= this.opts.batchSize || wait <= 0) this.start(lane);
    else lane.timer ??= setTimeout(() => this.start(lane), wait);
  }

  private start(lane: Lane): void {
    clearTimeout(lane.timer);
    lane.timer = undefined;
    if (lane.writing || lane.pending.length === 0) return;
    const cmds = lane.pending;
    lane.pending = [];
    this.stats.queued -= cmds.length;
    lane.writing = true;
    void this.write(lane.sessionId, cmds).finally(() => {
      lane.writing = false;
      lane.done += cmds.length;
      this.settle(lane);
      // A flush waiting on commands still buffered takes them now; otherwise their window runs on.
      if (lane.pending.length > 0 && lane.waiters.length > 0) this.start(lane);
      else if (lane.pending.length > 0) this.schedule(lane);
      else if (lane.waiters.length === 0 && this.lanes.get(lane.sessionId) === lane) {
        this.lanes.delete(lane.sessionId); // idle: a session's next command opens a new lane
      }
    });
  }

  private settle(lane: Lane): void {
    for (let i = lane.waiters.length - 1; i >= 0; i--) {
      if (lane.done >= lane.waiters[i].target) lane.waiters.splice(i, 1)[0].resolve();
    }
  }

  private async write(sessionId: SessionId, cmds: WriteCommand[]): Promise<void> {
    const started = performance.now();
    // A root span per write: it holds the events of many messages, so it is no one's child.
    const span = tracing.tracer?.startSpan('writer batch', { kind: SpanKind.INTERNAL, root: true });
    let failed = false;
    try {
      await this.opts.withSession(sessionId, (ds) => this.writeGroup(ds, cmds));
      this.stats.transactions++;
      this.stats.rows += cmds.length;
    } catch (err) {
      failed = true;
      this.stats.failedTransactions++;
      this.logger.error(
        `write of ${cmds.length} rows for session ${sessionId} failed: ${(err as Error).message}`,
      );
    }
    this.stats.flushes++;
    this.stats.lastFlushMs = performance.now() - started;
    this.opts.onFlush?.({ durationMs: this.stats.lastFlushMs, rows: cmds.length, sessions: 1 });
    if (span) {
      span.setAttributes({
        'diminuendo.writer.rows': cmds.length,
        'diminuendo.writer.sessions': 1,
        'diminuendo.writer.duration_ms': this.stats.lastFlushMs,
        'diminuendo.writer.failed_sessions': failed ? 1 : 0,
      });
      if (failed) failSpan(span, new Error('write failed'));
      span.end();
    }
  }

  /** Runs a statement; the per-table JSON statements stay prepared on their database until `release`. */
  private async execute(
    db: RawDatabase,
    statement: { sql: string; params: unknown[]; prepared?: boolean },
  ): Promise<void> {
    if (!statement.prepared) return run(db, statement.sql, statement.params);
    let cache = this.prepared.get(db);
    if (!cache) this.prepared.set(db, (cache = new Map()));
    let prepared = cache.get(statement.sql);
    if (!prepared) {
      prepared = await new Promise<RawStatement>((resolve, reject) => {
        const st = db.prepare(statement.sql, (err) => (err ? reject(err) : resolve(st)));
      });
      cache.set(statement.sql, prepared);
    }
    const st = prepared;
    await new Promise<void>((resolve, reject) =>
      st.run(statement.params, (err) => (err ? reject(err) : resolve())),
    );
  }

  /**
   * Finalizes the statements prepared on a session's database: called before the database is closed
   * (SQLite refuses to close a connection with live statements).
   */
  async release(ds: DataSource): Promise<void> {
    const db = (ds.driver as unknown as { databaseConnection?: RawDatabase }).databaseConnection;
    const cache = db && this.prepared.get(db);
    if (!cache) return;
    this.prepared.delete(db);
    await Promise.all([...cache.values()].map((st) => new Promise<void>((resolve) => st.finalize(resolve))));
  }

  /**
   * One transaction: a single statement when the commands touch one table (the usual case: a run of
   * events), else BEGIN, the statements, COMMIT. Runs on the sqlite3 handle under TypeORM.
   */
  private async writeGroup(ds: DataSource, cmds: WriteCommand[]): Promise<void> {
    const db = (ds.driver as unknown as { databaseConnection: RawDatabase }).databaseConnection;
    const byTable = new Map<WriteCommand['table'], WriteCommand['row'][]>();
    for (const c of cmds) {
      let rows = byTable.get(c.table);
      if (!rows) byTable.set(c.table, (rows = []));
      rows.push(c.row);
    }
    const statements = [...byTable].flatMap(([table, rows]) => statementsFor(table, rows));
    if (statements.length === 1) {
      await this.execute(db, statements[0]);
      this.stats.statements++;
      return;
    }
    await run(db, 'BEGIN');
    try {
      for (const statement of statements) {
        await this.execute(db, statement);
        this.stats.statements++;
      }
      await run(db, 'COMMIT');
    } catch (err) {
      await run(db, 'ROLLBACK').catch(() => undefined);
      throw err;
    }
  }
}
