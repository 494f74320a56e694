import Redis from 'ioredis';
import { DiminuendoClient } from '@app/client';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { eventually } from './support/sdk-history';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueName } from './support/services';

/** An `answer_question` whose `answers` is an object nested `depth` levels deep. */
function deepAnswerFrame(requestId: string, depth = 50_000): string {
  const nested = `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
  return `{"type":"answer_question","sessionId":"s-1","requestId":"${requestId}","answers":${nested}}`;
}

/** The requestId an event echoes. */
const rid = (e: object) => (e as { requestId?: string }).requestId;

const alive = async (gw: GatewayProcess) =>
  gw.proc.exitCode === null && (await fetch(`${gw.url}/health/live`)).status === 200;

/**
 * Hostile and unusual frames on one instance: each gets its protocol error with its requestId, in the
 * order the frames arrived, and the process and every other client carry on.
 */
describe('frames: one frame cannot crash the gateway; errors are correlated and ordered', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  const clients: DiminuendoClient[] = [];
  const connect = async () => {
    const c = await DiminuendoClient.connect(gw.url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'development',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      WS_RATE_LIMIT_MAX: '5',
      WS_RATE_LIMIT_WINDOW_MS: '60000',
    });
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    await gw?.stop();
    await sim?.stop();
  });

  it('answers a 50,000-deep answers object with INVALID_MESSAGE and its requestId; all else carries on', async () => {
    const hostile = await connect();
    const bystander = await connect();
    hostile.sendRaw(deepAnswerFrame('deep-1'));
    const error = await hostile.waitFor('error', 5000, true, (e) => rid(e) === 'deep-1');
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.message).toContain('answers');
    expect(await hostile.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    expect(await bystander.request({ type: 'list_sessions' })).toMatchObject({ type: 'session_list' });
    expect(await alive(gw)).toBe(true);
  });

  it('sends the answers of a burst in frame order, RATE_LIMITED errors included, each with its requestId', async () => {
    const c = await connect();
    const ids = Array.from({ length: 8 }, (_, i) => `burst-${i}`);
    for (const requestId of ids) c.send({ type: 'ping', requestId, clientTs: 1 });
    await eventually(
      () => c.log.filter((e) => ids.includes(e.requestId ?? '')).length === 8,
      'eight answers',
    );
    const answers = c.log.filter((e) => ids.includes(e.requestId ?? ''));
    expect(answers.map((e) => e.requestId)).toEqual(ids);
    // The window allows 5 messages: the rest are refused, after the earlier pongs.
    expect(answers.map((e) => e.type)).toEqual([
      'pong',
      'pong',
      'pong',
      'pong',
      'pong',
      'error',
      'error',
      'error',
    ]);
    for (const e of answers.slice(5)) {
      expect(e).toMatchObject({ code: 'RATE_LIMITED' });
      expect((e as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(0);
    }
  });

  it('puts the requestId on MESSAGE_TOO_LARGE and INVALID_JSON errors too', async () => {
    const c = await connect();
    c.sendRaw(`{"requestId":"big-1","type":"run_turn","sessionId":"x","text":"${'y'.repeat(1024 * 1024)}"}`);
    expect(await c.waitFor('error', 5000, true, (e) => rid(e) === 'big-1')).toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
    });
    c.sendRaw('{"requestId":"json-1","type":"ping",');
    expect(await c.waitFor('error', 5000, true, (e) => rid(e) === 'json-1')).toMatchObject({
      code: 'INVALID_JSON',
    });
  });
});

describe('protocol events: session_deleted once, usage in credits, normalised turn_error codes', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  const clients: DiminuendoClient[] = [];
  const connect = async () => {
    const c = await DiminuendoClient.connect(gw.url);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startPodiumSim();
    gw = await startGateway({ NODE_ENV: 'development', PODIUM_URL: sim.url, PODIUM_API_KEY: SIM_KEY });
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    await gw?.stop();
    await sim?.stop();
  });

  const newSession = async (c: DiminuendoClient, agentType = 'echo') =>
    (await c.request<any>({ type: 'create_session', agentType, name: 'hardening' })).session.id as string;

  it('delivers session_deleted once to a joined requester, a joined viewer and a tenant watcher', async () => {
    const requester = await connect();
    const viewer = await connect();
    const watcher = await connect();
    const sessionId = await newSession(requester);
    await requester.request({ type: 'join_session', sessionId });
    await viewer.request({ type: 'join_session', sessionId });
    await requester.request({ type: 'delete_session', sessionId });
    await viewer.waitFor('session_deleted', 5000, true, (e) => e.sessionId === sessionId);
    await watcher.waitFor('session_deleted', 5000, true, (e) => e.sessionId === sessionId);
    // Anything late would arrive behind a round trip on each socket.
    await Promise.all([requester, viewer, watcher].map((c) => c.request({ type: 'ping' })));
    for (const c of [requester, viewer, watcher]) {
      const deleted = c.log.filter((e) => e.type === 'session_deleted' && e.sessionId === sessionId);
      expect(deleted).toHaveLength(1);
    }
  });

  it('sends usage_update with credits (cost kept as an alias of the same value)', async () => {
    const c = await connect();
    const sessionId = await newSession(c);
    await c.request({ type: 'join_session', sessionId });
    await c.request({ type: 'run_turn', sessionId, text: 'count my credits' });
    const usage = await c.waitFor('usage_update', 15_000, true, (e) => e.sessionId === sessionId);
    expect(typeof usage.credits).toBe('number');
    expect(usage.cost).toBe(usage.credits);
  });

  it('normalises upstream error codes: documented ones kept, others UPSTREAM_ERROR with detail', async () => {
    const c = await connect();
    const sessionId = await newSession(c);
    await c.request({ type: 'join_session', sessionId });

    await sim.config({ upstreamError: true });
    await c.request({ type: 'run_turn', sessionId, text: 'fail please' });
    const first = await c.waitFor('turn_error', 15_000, true, (e) => e.sessionId === sessionId);
    expect(first.code).toBe('UPSTREAM_ERROR');
    expect(first).not.toHaveProperty('detail');

    await sim.config({ tokenDelayMs: 200 });
    const started = await c.request<any>({ type: 'run_turn', sessionId, text: 'a slow turn to interrupt' });
    let running: { instance_id: string }[] = [];
    await eventually(async () => {
      const live = (await (await fetch(`${sim.url}/_sim/instances`)).json()) as {
        instance_id: string;
        turn: unknown;
      }[];
      running = live.filter((i) => i.turn !== null);
      return running.length === 1;
    }, 'the simulator to run the turn');
    await Promise.all(
      running.map((i) =>
        fetch(`${sim.url}/_sim/instances/${i.instance_id}/emit`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            messageType: 'error',
            content: {
              event_type: 'error',
              turn_id: started.turnId,
              code: 'model_overloaded',
              message: 'busy',
            },
          }),
        }),
      ),
    );
    const second = await c.waitFor('turn_error', 15_000, true, (e) => e.turnId === started.turnId);
    expect(second).toMatchObject({ code: 'UPSTREAM_ERROR', detail: 'model_overloaded' });
    await sim.config({ tokenDelayMs: 0 });
    // Stored as broadcast: the replay carries the same normalised code.
    const page = await c.request<any>({ type: 'get_events', sessionId, afterSeq: 0 });
    const stored = page.events.filter((e: any) => e.type === 'turn_error');
    expect(stored.map((e: any) => [e.code, e.detail])).toEqual([
      ['UPSTREAM_ERROR', undefined],
      ['UPSTREAM_ERROR', 'model_overloaded'],
    ]);
  });
});

/** The same hostile frame sent to an instance that forwards it to the tenant's owner (lease mode). */
describe('frames through a forwarding instance (lease mode)', () => {
  let sim: SimProcess;
  let redis: Redis;
  const prefix = uniqueName('e2e_frames');
  const gws: GatewayProcess[] = [];
  const clients: DiminuendoClient[] = [];

  beforeAll(async () => {
    sim = await startPodiumSim();
    redis = new Redis(TEST_REDIS_URL);
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    await Promise.all(gws.map((g) => g.stop('SIGKILL')));
    await sim?.stop();
    await deleteRedisKeys(prefix, redis);
    await redis.quit();
  });

  it('answers INVALID_MESSAGE on the non-owner, and both instances keep serving', async () => {
    const dataDir = tempDataDir('dim-frames-');
    const env = (name: string) => ({
      NODE_ENV: 'development',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      REDIS_URL: TEST_REDIS_URL,
      REDIS_KEY_PREFIX: prefix,
      CLUSTER_SECRET: 'frames-test-cluster-secret-0123456789abcdef',
      LEASE_TTL_MS: '1500',
      DATA_DIR: dataDir,
      INSTANCE_ID: name,
    });
    const owner = await startGateway(env('gw-owner'));
    gws.push(owner);
    const onOwner = await DiminuendoClient.connect(owner.url);
    clients.push(onOwner);
    await eventually(async () => (await redis.get(`${prefix}:lease:tenant:dev`)) !== null, 'the lease');
    const forwarding = await startGateway(env('gw-forwarding'));
    gws.push(forwarding);
    const hostile = await DiminuendoClient.connect(forwarding.url);
    const bystander = await DiminuendoClient.connect(forwarding.url);
    clients.push(hostile, bystander);
    const { session } = await bystander.request<any>({
      type: 'create_session',
      agentType: 'echo',
      name: 'fw',
    });

    hostile.sendRaw(deepAnswerFrame('deep-fw'));
    const error = await hostile.waitFor('error', 5000, true, (e) => rid(e) === 'deep-fw');
    expect(error.code).toBe('INVALID_MESSAGE');

    // A valid frame still goes through the forwarding instance, to the owner and back.
    // (Answered by the owner's turn service: the session is not waiting for an answer.)
    const refused = await hostile
      .request({
        type: 'answer_question',
        sessionId: session.id,
        requestId: 'no-such-question',
        answers: { q1: 'yes' },
      })
      .then(
        () => 'answered',
        (e: { code?: string }) => e.code,
      );
    expect(refused).toMatch(/^(INVALID_STATE|REQUEST_NOT_FOUND)$/);
    expect(await bystander.request({ type: 'list_sessions' })).toMatchObject({ type: 'session_list' });
    expect(await alive(forwarding)).toBe(true);
    expect(await alive(owner)).toBe(true);
  });
});
