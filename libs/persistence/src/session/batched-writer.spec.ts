import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { SessionId } from '@app/common';
import { DataSourceRegistry, openSqlite } from '../datasource-registry';
import { BatchedWriter, type EventRecord, type WriteCommand, type WriterOptions } from './batched-writer';
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

beforeEach(() => {
  gate = undefined;
  handles = new DataSourceRegistry(8, (id) =>
    openSqlite(join(dataDir, `${expect.getState().currentTestName?.replace(/\W+/g, '-')}-${id}.db`), {
      entities: SESSION_ENTITIES,
      migrations: SESSION_MIGRATIONS,
    }),
  );
});

afterEach(() => handles.closeAll());

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function writer(batchMs: number, batchSize: number, onFlush?: WriterOptions['onFlush']): BatchedWriter {
  return new BatchedWriter({
    batchMs,
    batchSize,
    onFlush,
    withSession: (id, fn) =>
      handles.write(id, async (ds) => {
        await gate;
        return fn(ds);
      }),
  });
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

  it('starts a write as soon as the batch size is reached, without waiting for the window', async () => {
    const w = writer(600_000, 3);
    w.enqueue(event(A, 1));
    w.enqueue(event(A, 2));
    expect(w.queueDepth).toBe(2);
    w.enqueue(event(A, 3));
    expect(w.queueDepth).toBe(0); // taken by the write the third command started
    await until(() => w.stats.flushes === 1);
    expect(await seqs(A)).toEqual([1, 2, 3]);
    await w.shutdown();
  });

  it('groups a batch by session: one transaction each, multi-row INSERTs of at most 400 rows', async () => {
    const w = writer(600_000, 10_000);
    for (let seq = 1; seq <= 401; seq++) w.enqueue(event(A, seq));
    w.enqueue(event(B, 1));
    await w.flush();
    expect(w.stats).toMatchObject({ flushes: 1, transactions: 2, rows: 402, statements: 3 });
    expect(await seqs(A)).toHaveLength(401);
    expect(await seqs(B)).toEqual([1]);
  });

  it('coalesces what arrives during a write into the next batch, and flush() waits for its commit', async () => {
    const held = deferred();
    gate = held.promise;
    const w = writer(600_000, 2);
    w.enqueue(event(A, 1));
    const first = w.flush();
    // Arriving while the first batch is held: far beyond the batch size, yet no write of its own.
    for (let seq = 2; seq <= 9; seq++) w.enqueue(event(seq % 2 ? A : B, seq));
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
    // Two batches: the held one (1 row), then everything that arrived meanwhile (two sessions).
    expect(w.stats).toMatchObject({ flushes: 2, transactions: 3, rows: 9 });
    expect(await seqs(A)).toEqual([1, 3, 5, 7, 9]);
    expect(await seqs(B)).toEqual([2, 4, 6, 8]);
  });

  it('a failing group rolls back whole, is counted and logged, other sessions commit, and waiters still resolve', async () => {
    const w = writer(600_000, 10_000);
    w.enqueue(event(A, 1));
    w.enqueue({
      table: 'messages',
      sessionId: A,
      row: { id: 'm1', turnId: null, role: 'user', content: 'hi', metadata: null, userId: 'u', createdAt: 1 },
    });
    // NOT NULL violated: the whole transaction of session A is rolled back.
    w.enqueue({
      table: 'messages',
      sessionId: A,
      row: {
        id: 'm2',
        turnId: null,
        role: null as unknown as string,
        content: 'x',
        metadata: null,
        userId: null,
        createdAt: 2,
      },
    });
    w.enqueue(event(B, 1));
    await w.flush();
    expect(w.stats).toMatchObject({ flushes: 1, transactions: 1, failedTransactions: 1, rows: 1 });
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
    expect(observed).toEqual([{ rows: 2, sessions: 2 }]);
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
});
