import type { DataSource } from 'typeorm';
import { openSqlite, REGISTRY_ENTITIES, REGISTRY_MIGRATIONS } from '@app/persistence';
import type { UnsequencedEvent } from '@app/protocol';
import {
  liveFixture,
  recordingConnection,
  until,
  type LiveFixture,
} from '../../../../test/support/live-fixture';
import { ActiveSession } from './active-session';
import { sessionTopic } from '../connection/broadcaster';

const BLOCK = 4;
let fx: LiveFixture;

beforeAll(() => {
  fx = liveFixture({ SEQ_RESERVE_BLOCK: String(BLOCK) });
  // Every registry is written under lease token 1; a test makes a tenant's writes fail by raising the
  // file's token from a second connection (as a newer owner would), and lowers it back to end the outage.
  fx.registry.useFence({ tokenFor: () => 1, sessionWriteToken: async () => undefined });
});

afterAll(() => fx.close());

function userMessage(active: ActiveSession, text: string): UnsequencedEvent {
  return { type: 'user_message', sessionId: active.sessionId, turnId: 't1', text, userId: 'auth0|u1' };
}

async function rawRegistry(active: ActiveSession): Promise<DataSource> {
  return openSqlite(
    fx.registry.paths.registryFile(active.tenantId),
    { entities: REGISTRY_ENTITIES, migrations: REGISTRY_MIGRATIONS },
    { existing: true },
  );
}

async function persistedLastSeq(active: ActiveSession): Promise<number> {
  return Number((await fx.registry.findSession(active.tenantId, active.sessionId))!.lastSeq);
}

function watch(active: ActiveSession) {
  const { socket, conn } = recordingConnection();
  fx.broadcaster.subscribe(sessionTopic(active.sessionId), conn);
  return () => socket.frames().map((f) => f.seq as number);
}

describe('EventPublisher seq reservation', () => {
  it('reserves a first block above what is persisted and hands out consecutive seqs', async () => {
    const active = await fx.active();
    expect(await persistedLastSeq(active)).toBe(BLOCK);
    const seqs = watch(active);
    for (let i = 1; i <= 2 * BLOCK + 1; i++) fx.publisher.publish(active, userMessage(active, `m${i}`));
    await until(() => seqs().length === 2 * BLOCK + 1, 'every event broadcast');
    expect(seqs()).toEqual(Array.from({ length: 2 * BLOCK + 1 }, (_, i) => i + 1));
    // The registry always holds a reservation at or above the last seq handed out.
    await until(async () => (await persistedLastSeq(active)) >= 2 * BLOCK + 1, 'reservation persisted');
  });

  it('holds events past a failed reservation, in order, never reusing a seq, and releases them when the write succeeds again', async () => {
    const active = await fx.active();
    const seqs = watch(active);
    const raw = await rawRegistry(active);
    try {
      await raw.query('UPDATE ownership_fence SET token = 2 WHERE id = 1');
      for (let i = 1; i <= BLOCK + 3; i++) fx.publisher.publish(active, userMessage(active, `m${i}`));
      await active.seq.reserving;
      // The reservation failed: only the seqs already reserved went out; the rest wait.
      expect(seqs()).toEqual([1, 2, 3, 4]);
      expect(active.seq.backlog).toHaveLength(3);
      expect(await persistedLastSeq(active)).toBe(BLOCK);
      fx.publisher.publish(active, userMessage(active, 'late'));
      expect(seqs()).toEqual([1, 2, 3, 4]);

      await raw.query('UPDATE ownership_fence SET token = 1 WHERE id = 1');
      await until(() => seqs().length === BLOCK + 4, 'held events released after the retry');
      expect(seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      const texts = (await fx.store.events(active.sessionId, 0, 100)).events.map(
        (e) => (JSON.parse(e.payload) as { text: string }).text,
      );
      expect(texts).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'late']);
      expect(await persistedLastSeq(active)).toBeGreaterThanOrEqual(8);
    } finally {
      await raw.destroy();
    }
  });

  it('continues above the reservation after a restart, so no seq is reused', async () => {
    const active = await fx.active();
    for (let i = 1; i <= 2; i++) fx.publisher.publish(active, userMessage(active, `m${i}`));
    // A crash: the in-memory position is lost; the registry holds the reservation (4).
    const again = new ActiveSession(active.tenantId, active.sessionId, active.agentType);
    await fx.publisher.initSeq(again, await persistedLastSeq(active));
    const seqs = watch(again);
    fx.publisher.publish(again, userMessage(again, 'after'));
    expect(seqs()).toEqual([BLOCK + 1]);
  });

  it('persists the exact last seq on a clean stop', async () => {
    const active = await fx.active();
    for (let i = 1; i <= 3; i++) fx.publisher.publish(active, userMessage(active, `m${i}`));
    await fx.publisher.persistLastSeq(active);
    expect(await persistedLastSeq(active)).toBe(3);
  });
});

describe('EventPublisher session.event_published', () => {
  it('is emitted for each durable event while someone listens, never for live-only ones', async () => {
    const active = await fx.active();
    const seen: Array<{ sessionId: string; type: string; seq: number }> = [];
    const listener = (e: { sessionId: string; event: { type: string; seq: number } }) =>
      seen.push({ sessionId: e.sessionId, type: e.event.type, seq: e.event.seq });
    fx.publisher.publish(active, userMessage(active, 'before anyone listens'));
    fx.emitter.on('session.event_published', listener);
    try {
      fx.publisher.publish(active, userMessage(active, 'm1'));
      fx.publisher.publish(active, {
        type: 'text_delta',
        sessionId: active.sessionId,
        turnId: 't1',
        text: 'x',
      });
      fx.publisher.publish(active, userMessage(active, 'm2'));
    } finally {
      fx.emitter.off('session.event_published', listener);
    }
    fx.publisher.publish(active, userMessage(active, 'after'));
    expect(seen).toEqual([
      { sessionId: active.sessionId, type: 'user_message', seq: 2 },
      { sessionId: active.sessionId, type: 'user_message', seq: 4 },
    ]);
  });
});
