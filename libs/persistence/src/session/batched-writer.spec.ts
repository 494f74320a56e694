import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { SessionId } from '@app/common';
import { DataSourceRegistry, openSqlite } from '../datasource-registry';
import {
  BatchedWriter,
  type EventRecord,
  type MessageRecord,
  type WriteCommand,
  type WriterOptions,
} from './batched-writer';
import { SESSION_ENTITIES } from './entities';
import { SESSION_MIGRATIONS } from './session-store.service';

/** The writer over real session databases in a temp dir, with a gate that can hold each write. */
let dataDir: string;
let handles: DataSourceRegistry;
let gate: Promise<void> | undefined;

const A = 'sess-a' as SessionId;
const B = 'sess-b' as SessionId;

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'batched-writer-'));
});

/** The writer of the running test: its statements are finalized before a database closes, as in SessionStore. */
let current: BatchedWriter | undefined;

beforeEach(() => {
  gate = undefined;
  current = undefined;
  handles = new DataSourceRegistry(
    8,
    (id) =>
      openSqlite(join(dataDir, `${expect.getState().currentTestName?.replace(/\W+/g, '-')}-${id}.db`), {
        entities: SESSION_ENTITIES,
        migrations: SESSION_MIGRATIONS,
      }),
    (ds) => current?.release(ds) ?? Promise.resolve(),
  );
});

afterEach(() => handles.closeAll());

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** `holdOf`: a promise a session's writes wait for, besides the shared `gate`. */
function writer(
  batchMs: number,
  batchSize: number,
  onFlush?: WriterOptions['onFlush'],
  holdOf?: (id: SessionId) => Promise<void> | undefined,
): BatchedWriter {
  return (current = new BatchedWriter({
    batchMs,
    batchSize,
    onFlush,
    withSession: (id, fn) =>
      handles.write(id, async (ds) => {
        await gate;
        await holdOf?.(id);
        return fn(ds);
      }),
  }));
}

function message(
  sessionId: SessionId,
  id: string,
  content: string,
  fields: Partial<MessageRecord> = {},
): WriteCommand {
  return {
    table: 'messages',
    sessionId,
    row: { id, turnId: 't1', role: 'user', content, metadata: null, userId: 'u', createdAt: 1, ...fields },
  };
}

function event(sessionId: SessionId, seq: number): WriteCommand {
  const row: EventRecord = { seq, type: 'text_delta', turnId: 't1', payload: `{"seq":${seq}}`, ts: seq };
  return { table: 'events', sessionId, row };
}

async function seqs(id: SessionId): Promise<number[]> {
  const rows: { seq: number }[] = await handles.use(id, (ds: DataSource) =>
    ds.query('SELECT seq FROM events ORDER BY seq'),
  );
  return rows.map((r) => r.seq);
}

/** Resolves once `cond` holds (polling, no deadline of its own: the test timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('BatchedWriter on real SQLite', () => {
  it('buffers below the batch size until the batch window, then writes one transaction', async () => {
    const w = writer(20, 100);
    w.enqueue(event(A, 1));
    w.enqueue(event(A, 2));
    expect(w.queueDepth).toBe(2);
    expect(w.stats.flushes).toBe(0);
    await until(() => w.stats.flushes === 1);
    expect(w.queueDepth).toBe(0);
    expect(w.stats).toMatchObject({ transactions: 1, rows: 2, statements: 1, failedTransactions: 0 });
    expect(await seqs(A)).toEqual([1, 2]);
  });

  it('starts a session’s write as soon as its batch size is reached; other sessions keep their window', async () => {
    const w = writer(600_000, 3);
    w.enqueue(event(A, 1));
    w.enqueue(event(B, 1));
    w.enqueue(event(A, 2));
    w.enqueue(event(B, 2));
    expect(w.queueDepth).toBe(4);
    w.enqueue(event(A, 3));
    expect(w.queueDepth).toBe(2); // A's three taken by the write its third command started; B's two wait
    await until(() => w.stats.flushes === 1);
    expect(await seqs(A)).toEqual([1, 2, 3]);
    expect(await seqs(B)).toEqual([]);
    await w.shutdown();
    expect(await seqs(B)).toEqual([1, 2]);
  });

  it('writes each session in one transaction, one statement per table whatever the row count', async () => {
    const w = writer(600_000, 100_000);
    for (let seq = 1; seq <= 5_000; seq++) w.enqueue(event(A, seq));
    w.enqueue(event(B, 1));
    w.enqueue(message(B, 'm1', 'hi'));
    await w.flush();
    // A: 5,000 events in one statement; B: an event and a message, one transaction of two statements.
    expect(w.stats).toMatchObject({ flushes: 2, transactions: 2, rows: 5_002, statements: 3 });
    expect(await seqs(A)).toEqual(Array.from({ length: 5_000 }, (_, i) => i + 1));
    expect(await seqs(B)).toEqual([1]);
  });

  it('stores every field exactly: quotes, NUL, emoji, nulls and integers survive the JSON round trip', async () => {
    const w = writer(600_000, 100_000);
    const content = 'a "quoted" \\ back\\slash, a NUL \u0000 inside, emoji 🎼, newline\n and tab\t';
    w.enqueue(message(A, 'm-1', content, { metadata: '{"k":[1,2]}', turnId: null, userId: null }));
    w.enqueue({
      table: 'turn_usage',
      sessionId: A,
      row: {
        turnId: 't1',
        model: null,
        inputTokens: 2 ** 40,
        outputTokens: 0,
        cacheReadTokens: 3,
        cacheWriteTokens: 4,
        cost: 1_234_567,
        createdAt: 1_700_000_000_123,
      },
    });
    w.enqueue({
      table: 'events',
      sessionId: A,
      row: { seq: 7, type: 'text_delta', turnId: 't1', payload: JSON.stringify({ text: content }), ts: 9 },
    });
    await w.flush();
    const [m] = await handles.use(A, (ds) =>
      ds.query(
        'SELECT id, turn_id, role, content, metadata, user_id, created_at, typeof(created_at) AS t FROM messages',
      ),
    );
    expect(m).toEqual({
      id: 'm-1',
      turn_id: null,
      role: 'user',
      content,
      metadata: '{"k":[1,2]}',
      user_id: null,
      created_at: 1,
      t: 'integer',
    });
    const [u] = await handles.use(A, (ds) => ds.query('SELECT * FROM turn_usage'));
    expect(u).toEqual({
      turn_id: 't1',
      model: null,
      input_tokens: 2 ** 40,
      output_tokens: 0,
      cache_read_tokens: 3,
      cache_write_tokens: 4,
      cost: 1_234_567,
      created_at: 1_700_000_000_123,
    });
    const [e] = await handles.use(A, (ds) => ds.query('SELECT payload, typeof(seq) AS t FROM events'));
    expect(JSON.parse(e.payload)).toEqual({ text: content });
    expect(e.t).toBe('integer');
  });

  it('pipelines sessions: a held write of one session does not hold another', async () => {
    const held = deferred();
    const w = writer(600_000, 100_000, undefined, (id) => (id === A ? held.promise : undefined));
    w.enqueue(event(A, 1));
    w.enqueue(event(B, 1));
    const a = w.flushSession(A);
    await w.flushSession(B); // resolves while A's write is still held
    expect(await seqs(B)).toEqual([1]);
    expect(await seqs(A)).toEqual([]);
    held.resolve();
    await a;
    expect(await seqs(A)).toEqual([1]);
  });

  it('coalesces what arrives during a write into the next write of that session, and flush() waits for its commit', async () => {
    const held = deferred();
    gate = held.promise;
    const w = writer(600_000, 2);
    w.enqueue(event(A, 1));
    const first = w.flush();
    // Arriving while the first write is held: beyond the batch size, yet no write of its own meanwhile.
    for (let seq = 2; seq <= 9; seq++) w.enqueue(event(A, seq));
    expect(w.queueDepth).toBe(8);
    let flushed = false;
    const all = w.flush().then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    expect(flushed).toBe(false);
    expect(await seqs(A)).toEqual([]); // nothing committed while the write is held
    gate = undefined;
    held.resolve();
    await first;
    await all;
    expect(flushed).toBe(true);
    // Two writes: the held one (1 row), then everything that arrived meanwhile.
    expect(w.stats).toMatchObject({ flushes: 2, transactions: 2, rows: 9, statements: 2 });
    expect(await seqs(A)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('after a write, what arrived meanwhile waits for its own window unless the batch is full', async () => {
    const held = deferred();
    gate = held.promise;
    const w = writer(80, 100_000);
    w.enqueue(event(A, 1));
    await until(() => w.queueDepth === 0); // the window of A's first command is over: its write started
    w.enqueue(event(A, 2));
    gate = undefined;
    held.resolve();
    await until(() => w.stats.flushes === 1);
    expect(w.queueDepth).toBe(1); // row 2 is 80 ms from its window's end
    await until(() => w.stats.flushes === 2);
    expect(await seqs(A)).toEqual([1, 2]);
  });

  it('a failing group rolls back whole, is counted and logged, other sessions commit, and waiters still resolve', async () => {
    const w = writer(600_000, 10_000);
    w.enqueue(event(A, 1));
    w.enqueue(message(A, 'm1', 'hi'));
    // NOT NULL violated: the whole transaction of session A is rolled back.
    w.enqueue(message(A, 'm2', 'x', { role: null as unknown as string }));
    w.enqueue(event(B, 1));
    await w.flush();
    expect(w.stats).toMatchObject({ flushes: 2, transactions: 1, failedTransactions: 1, rows: 1 });
    expect(await seqs(A)).toEqual([]);
    const messages: unknown[] = await handles.use(A, (ds) => ds.query('SELECT id FROM messages'));
    expect(messages).toEqual([]);
    expect(await seqs(B)).toEqual([1]);
    // The writer carries on after a failure.
    w.enqueue(event(A, 2));
    await w.flush();
    expect(await seqs(A)).toEqual([2]);
  });

  it('flushSession flushes only a session with writes pending', async () => {
    const w = writer(600_000, 10_000);
    w.enqueue(event(A, 1));
    await w.flushSession(B);
    expect(w.queueDepth).toBe(1);
    await w.flushSession(A);
    expect(w.queueDepth).toBe(0);
    expect(await seqs(A)).toEqual([1]);
  });

  it('discard drops a session’s buffered commands and releases the waiters counting on them', async () => {
    const w = writer(600_000, 10_000);
    w.enqueue(event(A, 1));
    w.enqueue(event(B, 1));
    w.discard(A);
    expect(w.queueDepth).toBe(1);
    await w.flush();
    expect(await seqs(A)).toEqual([]);
    expect(await seqs(B)).toEqual([1]);
  });

  it('shutdown writes everything buffered, then refuses new commands', async () => {
    const observed: { rows: number; sessions: number }[] = [];
    const w = writer(600_000, 10_000, ({ rows, sessions }) => observed.push({ rows, sessions }));
    w.enqueue(event(A, 1));
    w.enqueue(event(B, 1));
    await w.shutdown();
    expect(await seqs(A)).toEqual([1]);
    expect(observed).toEqual([
      { rows: 1, sessions: 1 },
      { rows: 1, sessions: 1 },
    ]);
    expect(() => w.enqueue(event(A, 2))).toThrow(/shut down/);
  });

  it('leaves no timer behind at shutdown, even a window whose commands were discarded', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const w = writer(600_000, 10_000);
    const before = timers();
    w.enqueue(event(A, 1));
    expect(timers()).toBe(before + 1);
    w.discard(A);
    await w.shutdown();
    expect(timers()).toBe(before);
  });

  it('flush() with nothing pending resolves at once', async () => {
    const w = writer(600_000, 10_000);
    await w.flush();
    expect(w.stats.flushes).toBe(0);
  });
  it('finalizes its prepared statements before a database closes, so the file is really closed', async () => {
    const w = writer(600_000, 100_000);
    let db: DataSource | undefined;
    await handles.use(A, async (ds) => (db = ds));
    w.enqueue(event(A, 1));
    w.enqueue(event(A, 2));
    await w.flush();
    expect(db!.isInitialized).toBe(true);
    await handles.close(A);
    expect(db!.isInitialized).toBe(false); // SQLite refuses to close a connection with live statements
    w.enqueue(event(A, 3)); // a new handle, statements prepared afresh
    await w.flush();
    expect(await seqs(A)).toEqual([1, 2, 3]);
  });
});
