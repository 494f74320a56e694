import type { AuthIdentity } from '@app/auth';
import { DomainError, type UnsequencedEvent } from '@app/protocol';
import { liveFixture, recordingConnection, type LiveFixture } from '../../../../test/support/live-fixture';
import { sessionTopic } from '../connection/broadcaster';
import type { Activation } from '../live/activation.service';
import { ActiveSession } from '../live/active-session';
import { LiveSessions } from '../live/live-sessions';
import type { Teardown } from '../live/teardown.service';
import { SessionInteraction } from './session-interaction.service';
import { SessionsService } from './sessions.service';

/**
 * The join seam: subscribe and hold, snapshot, replay after `afterSeq`, release the held frames above the
 * replay. The live sessions are the real registry; the agent start is reduced to its outcome (the session
 * as it is, or the cap's refusal), and `onLookup` publishes at the moment the join reads the live session,
 * i.e. after the hold began.
 */
interface Live {
  active?: ActiveSession;
  onLookup?: () => void;
  refuseStart?: boolean;
}

function build(fx: LiveFixture, spec: Live): SessionInteraction {
  const live = new LiveSessions(fx.config, fx.events);
  if (spec.active) live.add(spec.active);
  const lookup = live.get.bind(live);
  live.get = (id: string) => {
    spec.onLookup?.();
    return lookup(id);
  };
  const activation = {
    ensureLive: async () => {
      spec.onLookup?.();
      if (spec.refuseStart) throw new DomainError('TOO_MANY_ACTIVE_SESSIONS', 'cap');
      return spec.active;
    },
  } as unknown as Activation;
  // Only `require` (the registry lookup) is used by a join.
  const sessions = new SessionsService(fx.registry, fx.broadcaster, live, {} as Teardown, fx.events);
  return new SessionInteraction(sessions, live, activation, fx.store, fx.registry, fx.broadcaster, fx.config);
}

function identity(active: ActiveSession, role: AuthIdentity['role'] = 'member'): AuthIdentity {
  return { userId: 'auth0|u1', email: 'u1@example.com', tenantId: active.tenantId, role, via: 'dev' };
}

function message(active: ActiveSession, text: string): UnsequencedEvent {
  return { type: 'user_message', sessionId: active.sessionId, turnId: 't1', text, userId: 'auth0|u1' };
}

describe('SessionInteraction.join (no agent start)', () => {
  let fx: LiveFixture;
  beforeAll(() => {
    fx = liveFixture({ ACTIVATE_ON_JOIN: 'false' });
  });
  afterAll(() => fx.close());

  it('holds frames published while the join is answered and sends them after the snapshot', async () => {
    const active = await fx.active();
    const live: Live = { active };
    const interaction = build(fx, live);
    const { socket, conn } = recordingConnection();
    live.onLookup = () => {
      live.onLookup = undefined;
      fx.publisher.publish(active, message(active, 'during-1'));
      fx.publisher.publish(active, message(active, 'during-2'));
    };
    await interaction.join(conn, identity(active), active.sessionId, undefined, 'r1');
    const frames = socket.frames();
    expect(frames.map((f) => f.type)).toEqual(['state_snapshot', 'user_message', 'user_message']);
    expect(frames[0].requestId).toBe('r1');
    expect(frames.slice(1).map((f) => f.text)).toEqual(['during-1', 'during-2']);
    expect(fx.broadcaster.subscriberCount(sessionTopic(active.sessionId))).toBe(1);
    expect(conn.joined.has(active.sessionId)).toBe(true);

    // Released: later frames go straight out.
    fx.publisher.publish(active, message(active, 'after'));
    expect(socket.frames().at(-1)?.text).toBe('after');
  });

  it('meets the replay after afterSeq without a gap or a duplicate at the seam', async () => {
    const active = await fx.active();
    for (let i = 1; i <= 5; i++) fx.publisher.publish(active, message(active, `m${i}`));
    const live: Live = { active };
    const interaction = build(fx, live);
    const { socket, conn } = recordingConnection();
    // Published after the hold began but before the replay is read: in the replay and held (a duplicate
    // the release drops).
    live.onLookup = () => {
      live.onLookup = undefined;
      fx.publisher.publish(active, message(active, 'm6'));
    };
    socket.onSend = (frame) => {
      const f = JSON.parse(frame) as { type: string; seq?: number };
      if (f.type === 'state_snapshot') fx.publisher.publish(active, message(active, 'm7'));
      // Published after the replay page was read: only held, released after the replay.
      if (f.seq === 3) fx.publisher.publish(active, message(active, 'm8'));
    };
    await interaction.join(conn, identity(active), active.sessionId, 2);
    const frames = socket.frames();
    expect(frames[0].type).toBe('state_snapshot');
    expect(frames.slice(1).map((f) => f.seq)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(frames.slice(1).map((f) => f.text)).toEqual(['m3', 'm4', 'm5', 'm6', 'm7', 'm8']);
  });

  it('answers the snapshot with the live position, the open turn and the recent messages', async () => {
    const active = await fx.active();
    for (let i = 1; i <= 3; i++) fx.publisher.publish(active, message(active, `m${i}`));
    const interaction = build(fx, { active });
    const { socket, conn } = recordingConnection();
    await interaction.join(conn, identity(active, 'viewer'), active.sessionId, undefined);
    const [snapshot] = socket.frames();
    expect(snapshot).toMatchObject({ type: 'state_snapshot', sessionId: active.sessionId, lastSeq: 3 });
    expect(snapshot.activeTurn).toBeNull();
  });
});

describe('SessionInteraction.join bounds and failures', () => {
  let fx: LiveFixture;
  beforeAll(() => {
    fx = liveFixture({ ACTIVATE_ON_JOIN: 'true', JOIN_HOLD_MAX_BYTES: '1024' });
  });
  afterAll(() => fx.close());

  it('closes the joiner with 1013 when the held frames pass JOIN_HOLD_MAX_BYTES', async () => {
    const active = await fx.active();
    const live: Live = { active };
    const interaction = build(fx, live);
    const { socket, conn } = recordingConnection();
    live.onLookup = () => {
      live.onLookup = undefined;
      fx.publisher.publish(active, message(active, 'x'.repeat(600)));
      fx.publisher.publish(active, message(active, 'y'.repeat(600)));
    };
    await interaction.join(conn, identity(active), active.sessionId, 0);
    expect(socket.closed).toEqual({ code: 1013, reason: 'join backlog too large' });
    // Nothing past the bound reached the socket.
    expect(socket.frames().filter((f) => f.type === 'user_message')).toEqual([]);
  });

  it('a join refused by the agent cap leaves no subscription and sends nothing it held', async () => {
    const active = await fx.active();
    const live: Live = { active, refuseStart: true };
    const interaction = build(fx, live);
    const { socket, conn } = recordingConnection();
    live.onLookup = () => {
      live.onLookup = undefined;
      fx.publisher.publish(active, message(active, 'held'));
    };
    await expect(interaction.join(conn, identity(active), active.sessionId, 0)).rejects.toMatchObject({
      code: 'TOO_MANY_ACTIVE_SESSIONS',
    });
    expect(fx.broadcaster.subscriberCount(sessionTopic(active.sessionId))).toBe(0);
    expect(conn.joined.has(active.sessionId)).toBe(false);
    expect(socket.sent).toEqual([]);
    fx.publisher.publish(active, message(active, 'later'));
    expect(socket.sent).toEqual([]);
  });
});
