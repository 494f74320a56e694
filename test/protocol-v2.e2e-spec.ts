import { DiminuendoClient } from '@app/client';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';

const V2 = { query: { protocolVersions: '1,2' } };
type Ev = { type: string; sessionId?: string; seq?: number; requestId?: string };

const sessionEvents = (c: DiminuendoClient, sessionId: string) =>
  (c.log as Ev[]).filter((e) => e.sessionId === sessionId && typeof e.seq === 'number');
const strictlyIncreasing = (seqs: number[]) => seqs.every((s, i) => i === 0 || s > seqs[i - 1]);

/**
 * Protocol version 2 (docs/protocol.md §2.1) against the real gateway: the frames of one event-loop
 * turn arrive as one `batch` frame, in order, and a v1 client beside it is unchanged.
 */
describe('protocol v2: coalesced delivery', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  const clients: DiminuendoClient[] = [];
  const connect = async (v2: boolean) => {
    const c = await DiminuendoClient.connect(gw.url, v2 ? V2 : {});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'development',
      DATA_DIR: tempDataDir(),
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
    });
  });
  afterAll(async () => {
    for (const c of clients) c.socket.terminate();
    await gw?.stop();
    await sim?.stop();
  });

  it('is chosen when offered; a client that states no version keeps v1', async () => {
    const v2 = await connect(true);
    const v1 = await connect(false);
    expect(v2.welcome?.protocolVersion).toBe(2);
    expect(v1.welcome?.protocolVersion).toBe(1);
    expect(v1.batchesReceived).toBe(0);
    // welcome, connected and authenticated are one turn's frames: one batch.
    expect(v2.framesReceived).toBeLessThan(3);
    expect(v2.log.slice(0, 3).map((e) => e.type)).toEqual(['welcome', 'connected', 'authenticated']);
  });

  it('a streamed turn reaches a v2 viewer in batches with the same events, in the same order, as a v1 viewer', async () => {
    const owner = await connect(false);
    const v1 = await connect(false);
    const v2 = await connect(true);
    const created = await owner.request<any>({ type: 'create_session', agentType: 'echo', name: 'v2' });
    const sessionId: string = created.session.id;
    for (const c of [owner, v1, v2]) await c.request({ type: 'join_session', sessionId });
    const framesBefore = v2.framesReceived;
    owner.send({ type: 'run_turn', sessionId, text: 'bench:3000' });
    await Promise.all(
      [v1, v2].map((c) => c.waitFor('turn_complete', 20_000, false, (e) => e.sessionId === sessionId)),
    );

    const seen1 = sessionEvents(v1, sessionId);
    const seen2 = sessionEvents(v2, sessionId);
    expect(seen2.filter((e) => e.type === 'text_delta').length).toBe(3000);
    expect(seen2.map((e) => [e.type, e.seq])).toEqual(seen1.map((e) => [e.type, e.seq]));
    expect(strictlyIncreasing(seen2.map((e) => e.seq!))).toBe(true);
    // Far fewer WebSocket frames than events: the stream was coalesced.
    expect(v2.batchesReceived).toBeGreaterThan(0);
    expect(v2.framesReceived - framesBefore).toBeLessThan(seen2.length / 2);

    // The durable ones are what the server stored, seq for seq.
    const page = await v2.request<any>({ type: 'get_events', sessionId, limit: 1000 });
    const stored = page.events.map((e: Ev) => e.seq);
    const durable = seen2.filter((e) => e.type !== 'text_delta').map((e) => e.seq);
    expect(durable.filter((s) => stored.includes(s))).toEqual(stored);
  });

  it('answers requests inside batches, each with its requestId, in the order the frames were sent', async () => {
    const c = await connect(true);
    const ids = Array.from({ length: 10 }, (_, i) => `p-${i}`);
    const answers = ids.map((requestId) => c.request<any>({ type: 'ping', requestId, clientTs: 1 }));
    c.sendRaw('{"type":"no_such_message","requestId":"bad-1"}');
    const results = await Promise.all(answers);
    expect(results.map((r) => r.type)).toEqual(ids.map(() => 'pong'));
    const error = await c.waitFor('error', 5000, true, (e) => (e as Ev).requestId === 'bad-1');
    expect(error.code).toBe('INVALID_MESSAGE');
    const order = (c.log as Ev[]).filter((e) => e.requestId).map((e) => e.requestId);
    expect(order).toEqual([...ids, 'bad-1']);
  });

  it('on SIGTERM a v2 client gets server_shutdown before the 1001 close', async () => {
    const sim2 = await startPodiumSim();
    const own = await startGateway({
      NODE_ENV: 'development',
      DATA_DIR: tempDataDir(),
      PODIUM_URL: sim2.url,
      PODIUM_API_KEY: SIM_KEY,
    });
    try {
      const c = await DiminuendoClient.connect(own.url, V2);
      const closed = c.closed;
      expect(await own.stop('SIGTERM')).toBe(0);
      expect((await closed).code).toBe(1001);
      expect(c.log.map((e) => e.type)).toContain('server_shutdown');
    } finally {
      await own.stop();
      await sim2.stop();
    }
  });
});
