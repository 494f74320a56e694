import {
  liveFixture,
  recordingConnection,
  until,
  type LiveFixture,
} from '../../../../test/support/live-fixture';
import { sessionTopic } from '../connection/broadcaster';
import type { ActiveSession } from './active-session';
import { TurnFinisher } from './turn-finisher.service';

let fx: LiveFixture;
let finisher: TurnFinisher;

beforeAll(() => {
  fx = liveFixture();
  finisher = new TurnFinisher(fx.publisher, fx.store, fx.states, fx.billing);
});

afterAll(() => fx.close());

/** A session running a turn whose credits are reserved, watched by one client. */
async function running(turnId: string) {
  const active = await fx.active();
  await fx.credits.grant(active.tenantId, 1_000_000, 'auth0|admin');
  for (const s of ['activating', 'ready', 'running'] as const) fx.states.set(active, s);
  const reservationId = await fx.billing.reserve(active, turnId, 'auth0|u1');
  active.beginTurn({
    id: turnId,
    startedAt: 1,
    userId: 'auth0|u1',
    text: 'partial',
    thinking: '',
    reservationId,
  });
  const { socket, conn } = recordingConnection();
  fx.broadcaster.subscribe(sessionTopic(active.sessionId), conn);
  return { active, socket, conn };
}

async function balance(active: ActiveSession) {
  return fx.credits.balance(active.tenantId);
}

describe('TurnFinisher', () => {
  it('completes a turn: usage_update before turn_complete, message and usage persisted, credits settled, back to ready', async () => {
    const { active, socket } = await running('turn-1');
    expect((await balance(active)).reserved).toBeGreaterThan(0);
    active.turn!.thinking = 'pondering';
    active.turn!.usage = {
      model: 'm',
      inputTokens: 1000,
      outputTokens: 500,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
    };
    finisher.finish(active, { kind: 'complete', finalText: 'done' });

    expect(active.turn).toBeUndefined();
    expect(active.state).toBe('ready');
    const types = socket.frames().map((f) => f.type);
    expect(types.slice(-3)).toEqual(['usage_update', 'turn_complete', 'session_state']);
    const usage = socket.frames().find((f) => f.type === 'usage_update')!;
    expect(usage).toMatchObject({ turnId: 'turn-1', inputTokens: 1000, outputTokens: 500 });
    expect(socket.frames().find((f) => f.type === 'turn_complete')).toMatchObject({ finalText: 'done' });

    const { messages } = await fx.store.messages(active.sessionId, 10);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ role: 'assistant', content: 'done', turnId: 'turn-1' });
    expect(JSON.parse(messages[0].metadata!)).toEqual({ thinking: 'pondering' });

    await until(async () => (await balance(active)).reserved === 0, 'reservation settled');
    const after = await balance(active);
    expect(after.balance).toBe(1_000_000 - (usage.cost as number));
  });

  it('ends a turn in error without usage: turn_error answered to the stop requester, partial text kept, credits released', async () => {
    const { active, socket } = await running('turn-2');
    const requester = recordingConnection();
    active.turn!.stopRequest = { conn: requester.conn, requestId: 'stop-1' };
    finisher.finish(active, { kind: 'error', code: 'UPSTREAM_STALLED', message: 'stalled' }, 'error');

    expect(active.state).toBe('error');
    expect(socket.frames().map((f) => f.type)).not.toContain('usage_update');
    expect(socket.frames().find((f) => f.type === 'turn_error')).toMatchObject({
      code: 'UPSTREAM_STALLED',
      turnId: 'turn-2',
    });
    // The requester gets it once, as its answer.
    expect(requester.socket.frames()).toEqual([
      expect.objectContaining({ type: 'turn_error', requestId: 'stop-1' }),
    ]);
    const { messages } = await fx.store.messages(active.sessionId, 10);
    expect(messages[0]).toMatchObject({ content: 'partial' });
    expect(JSON.parse(messages[0].metadata!)).toEqual({ error: 'UPSTREAM_STALLED' });
    await until(async () => (await balance(active)).reserved === 0, 'reservation released');
    expect((await balance(active)).balance).toBe(1_000_000);
  });

  it('a stopped turn publishes turn_stopped; a second finish is a no-op', async () => {
    const { active, socket } = await running('turn-3');
    finisher.finish(active, { kind: 'stopped' });
    finisher.finish(active, { kind: 'complete' });
    const terminal = socket.frames().filter((f) => String(f.type).startsWith('turn_'));
    expect(terminal.map((f) => f.type)).toEqual(['turn_stopped']);
    expect(active.state).toBe('ready');
  });
});
