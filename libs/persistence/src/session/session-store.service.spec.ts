import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { SessionId } from '@app/common';
import type { EventRecord } from './batched-writer';
import type { PersistenceEventMap } from '../persistence.events';
import { SessionStore } from './session-store.service';

let dataDir: string;
let store: SessionStore;

const config = (batchMs: number) => ({
  dataDir,
  writeBatchMs: batchMs,
  writeBatchSize: 10_000,
  registryCache: 2,
  sessionCache: 4,
});

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'session-store-'));
});

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

beforeEach(() => {
  // A window far beyond any test: only reads and explicit flushes write.
  store = new SessionStore(config(600_000));
});

afterEach(() => store.shutdown());

function event(seq: number): EventRecord {
  return { seq, type: 'text_delta', turnId: 't1', payload: `{"seq":${seq}}`, ts: 1_000 + seq };
}

function enqueueEvents(id: SessionId, from: number, to: number): void {
  for (let seq = from; seq <= to; seq++) store.enqueue({ table: 'events', sessionId: id, row: event(seq) });
}

describe('SessionStore on real SQLite', () => {
  it('reads its own writes: events() flushes a session with writes pending, and pages by seq', async () => {
    const id = 'read-own' as SessionId;
    enqueueEvents(id, 1, 5);
    expect(store.writer.queueDepth).toBe(5);
    const first = await store.events(id, 0, 3);
    expect(first).toEqual({
      events: [1, 2, 3].map((seq) => ({ seq, payload: `{"seq":${seq}}` })),
      hasMore: true,
    });
    const rest = await store.events(id, 3, 3);
    expect(rest.events.map((e) => e.seq)).toEqual([4, 5]);
    expect(rest.hasMore).toBe(false);
    expect(await store.maxSeq(id)).toBe(5);
  });

  it('keeps the first copy of a seq written twice', async () => {
    const id = 'dup-seq' as SessionId;
    store.enqueue({ table: 'events', sessionId: id, row: event(1) });
    store.enqueue({ table: 'events', sessionId: id, row: { ...event(1), payload: 'second' } });
    expect((await store.events(id, 0, 10)).events).toEqual([{ seq: 1, payload: '{"seq":1}' }]);
  });

  it('maxSeq of a session without events is 0', async () => {
    expect(await store.maxSeq('empty' as SessionId)).toBe(0);
  });

  it('appends messages with new ids and pages them oldest first, by message id or by time', async () => {
    const id = 'history' as SessionId;
    for (let i = 1; i <= 5; i++) {
      store.appendMessage(id, {
        turnId: `t${i}`,
        role: i % 2 ? 'user' : 'assistant',
        content: `m${i}`,
        metadata: null,
        userId: i % 2 ? 'u1' : null,
        createdAt: i === 5 ? 4_000 : i * 1_000, // m4 and m5 share a timestamp
      });
    }
    const latest = await store.messages(id, 2);
    expect(latest.messages.map((m) => m.content)).toEqual(['m4', 'm5']);
    expect(latest.hasMore).toBe(true);
    expect(latest.messages[0]).toMatchObject({ role: 'assistant', turnId: 't4', createdAt: 4_000 });
    expect(new Set((await store.messages(id, 10)).messages.map((m) => m.id)).size).toBe(5);

    // Before m5 (same timestamp as m4): the insertion order breaks the tie.
    const beforeM5 = await store.messages(id, 2, latest.messages[1].id);
    expect(beforeM5.messages.map((m) => m.content)).toEqual(['m3', 'm4']);
    expect(beforeM5.hasMore).toBe(true);
    expect((await store.messages(id, 10, 3_000)).messages.map((m) => m.content)).toEqual(['m1', 'm2']);
    expect((await store.messages(id, 10, '3000')).messages.map((m) => m.content)).toEqual(['m1', 'm2']);
    expect(await store.messages(id, 10, 'no-such-message')).toEqual({ messages: [], hasMore: false });
  });

  it('stores a turn’s usage (a second write of the turn replaces the first)', async () => {
    const id = 'usage' as SessionId;
    const usage = {
      turnId: 't1',
      model: 'm',
      inputTokens: 10,
      outputTokens: 20,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      cost: 5,
      createdAt: 1,
    };
    store.enqueue({ table: 'turn_usage', sessionId: id, row: usage });
    store.enqueue({ table: 'turn_usage', sessionId: id, row: { ...usage, cost: 7 } });
    await store.writer.flush();
    expect(await store.usage(id)).toEqual([
      expect.objectContaining({ turn_id: 't1', input_tokens: 10, output_tokens: 20, cost: 7 }),
    ]);
  });

  it('forget drops pending writes and closes the database, so its files can go', async () => {
    const id = 'forgotten' as SessionId;
    enqueueEvents(id, 1, 1);
    await store.writer.flush();
    enqueueEvents(id, 2, 3);
    await store.forget(id);
    rmSync(store.paths.sessionDir(id), { recursive: true, force: true });
    expect(existsSync(store.paths.sessionFile(id))).toBe(false);
    expect(await store.maxSeq(id)).toBe(0);
  });

  it('under a fence, refuses writes once this instance may not write the session, and claims it otherwise', async () => {
    const id = 'fenced' as SessionId;
    let token: number | undefined = 2;
    store.useFence({ tokenFor: () => 0, sessionWriteToken: () => Promise.resolve(token) });
    enqueueEvents(id, 1, 1);
    await store.writer.flush();
    expect(await store.maxSeq(id)).toBe(1);

    token = 0; // the lease is gone: nothing more is written
    enqueueEvents(id, 2, 2);
    await store.writer.flush();
    expect(store.writer.stats.failedTransactions).toBe(1);
    expect(await store.maxSeq(id)).toBe(1);

    // An older holder of the file is refused by its triggers once a newer token claimed it.
    await store.claimSession(id, 5);
    token = 2;
    enqueueEvents(id, 3, 3);
    await store.writer.flush();
    expect(store.writer.stats.failedTransactions).toBe(2);
    expect(await store.maxSeq(id)).toBe(1);
  });

  it('shutdown writes what is buffered before closing', async () => {
    const id = 'at-shutdown' as SessionId;
    enqueueEvents(id, 1, 2);
    await store.shutdown();
    store = new SessionStore(config(600_000));
    expect(await store.maxSeq(id)).toBe(2);
  });

  it('writes at the batch window with nobody asking', async () => {
    await store.shutdown();
    store = new SessionStore(config(10));
    const id = 'window' as SessionId;
    enqueueEvents(id, 1, 1);
    while (store.writer.stats.flushes === 0) await new Promise((r) => setTimeout(r, 5));
    expect(store.writer.queueDepth).toBe(0);
    expect(await store.maxSeq(id)).toBe(1);
  });

  it('announces each write (one session’s transaction) as persistence.flushed, to every listener', async () => {
    await store.shutdown();
    const events = new EventEmitter2();
    store = new SessionStore(config(600_000), events);
    const seen: PersistenceEventMap['persistence.flushed'][][] = [[], []];
    for (const list of seen) events.on('persistence.flushed', (info) => list.push(info));
    enqueueEvents('flushed-a' as SessionId, 1, 2);
    enqueueEvents('flushed-b' as SessionId, 1, 1);
    await store.writer.flush();
    for (const list of seen) {
      // one write per session, in no particular order
      expect([...list].sort((x, y) => x.rows - y.rows)).toEqual([
        { durationMs: expect.any(Number), rows: 1, sessions: 1 },
        { durationMs: expect.any(Number), rows: 2, sessions: 1 },
      ]);
    }
  });
});
