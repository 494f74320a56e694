import { createServer } from 'node:net';
import { Diminuendo, type SessionEvent } from '@app/client/sdk/node';
import { DURABLE_EVENT_TYPES } from '@app/protocol';
import { eventually, expectExactlyOnce, record, stored } from './support/sdk-history';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy';

/**
 * The SDK's promise, against the real gateway and simulator: whatever happens to the connection, the
 * application sees every durable event of a session exactly once, in seq order, and the turn's final text
 * is the server's.
 */
async function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

const LONG_PROMPT = 'stream this back slowly please '.repeat(12);

describe('SDK: exactly-once delivery across drops and restarts', () => {
  let sim: SimProcess;
  const clients: Diminuendo[] = [];
  const env = (extra: Record<string, string> = {}) => ({
    NODE_ENV: 'development',
    PODIUM_URL: sim.url,
    PODIUM_API_KEY: SIM_KEY,
    HEARTBEAT_INTERVAL_MS: '1000',
    ...extra,
  });
  const sdk = (url: string) => {
    const c = new Diminuendo({ url, reconnect: { baseMs: 50, capMs: 500 } });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    sim = await startPodiumSim();
  });
  afterAll(async () => {
    for (const c of clients) c.close();
    await sim.stop();
  });

  describe('through a TCP proxy', () => {
    let gw: GatewayProcess;
    let proxy: TcpProxy;
    beforeAll(async () => {
      gw = await startGateway(env());
      proxy = await startTcpProxy(gw.port);
    });
    afterAll(async () => {
      await proxy.close();
      await gw.stop();
    });
    beforeEach(async () => {
      await sim.reset();
      await sim.config({ tokenDelayMs: 15 });
    });

    it('the socket is cut mid-turn: reconnects, re-joins, no gap, no duplicate, server final text', async () => {
      const client = sdk(proxy.url);
      const states: string[] = [];
      client.on('state', (s) => states.push(s));
      await client.connect();
      const session = await client.createSession('echo');
      const seen = record(session);
      const view = session.view();
      await session.join();
      const turn = session.runTurn(LONG_PROMPT);
      const turnEvents: SessionEvent[] = [];
      const iterated = (async () => {
        for await (const e of turn) turnEvents.push(e);
      })();
      await eventually(() => seen.all.filter((e) => e.type === 'text_delta').length >= 5, 'deltas');
      const acceptedBefore = proxy.accepted;
      proxy.dropAll();

      const outcome = await turn.outcome;
      await iterated;
      expect(states).toEqual(expect.arrayContaining(['connecting', 'open', 'reconnecting']));
      expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
      expect(outcome.status).toBe('complete');
      expect(outcome.finalText).toBe(LONG_PROMPT);

      await expectExactlyOnce(gw.url, session.id, seen.durable);
      const history = await stored(gw.url, session.id);
      // The turn's iterator saw the same turn, ending with its completion.
      const turnDurable = turnEvents.filter((e) => DURABLE_EVENT_TYPES.has(e.type));
      expect(turnDurable).toEqual(history.filter((e) => 'turnId' in e && e.turnId === outcome.turnId));
      expect(turnEvents.at(-1)?.type).toBe('turn_complete');
      // The view shows the server's text once, whatever deltas were lost.
      const messages = view.getSnapshot().items.filter((i) => i.kind === 'message');
      expect(messages.map((m) => (m as any).text)).toEqual([LONG_PROMPT, LONG_PROMPT]);
      expect(view.getSnapshot().turn?.status).toBe('complete');
    });

    it('a frozen path (no bytes, no close) is detected by the app-level ping and replaced', async () => {
      const client = sdk(proxy.url);
      await client.connect();
      const session = await client.createSession('echo');
      const seen = record(session);
      await session.join();
      const turn = session.runTurn(LONG_PROMPT);
      await eventually(() => seen.all.filter((e) => e.type === 'text_delta').length >= 5, 'deltas');
      const acceptedBefore = proxy.accepted;
      proxy.freezeAll();

      const outcome = await turn.outcome;
      expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
      expect(outcome).toMatchObject({ status: 'complete', finalText: LONG_PROMPT });
      await expectExactlyOnce(gw.url, session.id, seen.durable);
    });

    it('requests made while reconnecting wait in the queue and are answered after re-authentication', async () => {
      const client = sdk(proxy.url);
      await client.connect();
      const session = await client.createSession('echo');
      await session.join();
      // The listener goes too, so the client stays offline (a reconnect after a plain drop can finish
      // between two polls) until the request has been queued.
      await proxy.cut();
      await eventually(() => client.state === 'reconnecting', 'reconnecting');
      const pending = session.events(0);
      await proxy.restore();
      const page = await pending;
      expect(client.state).toBe('open');
      expect(page.type).toBe('events');
    });

    it('rejects an error answer with its protocol code, and fails fast when the queue is off', async () => {
      const client = sdk(proxy.url);
      await client.connect();
      await expect(client.session('no-such-session').join()).rejects.toMatchObject({
        code: 'SESSION_NOT_FOUND',
      });
      const noQueue = new Diminuendo({
        url: proxy.url,
        queue: false,
        reconnect: { baseMs: 2000, capMs: 2000 },
      });
      clients.push(noQueue);
      await noQueue.connect();
      // Refuse new connections too, so the client stays disconnected however short its jittered delay.
      await proxy.cut();
      try {
        await eventually(() => noQueue.state !== 'open', 'disconnected');
        await expect(noQueue.request({ type: 'list_sessions' })).rejects.toMatchObject({
          code: 'NOT_CONNECTED',
        });
      } finally {
        await proxy.restore();
      }
    });
  });

  it('the gateway restarts mid-turn (SIGTERM → server_shutdown): the app-level list equals the history', async () => {
    await sim.reset();
    await sim.config({ tokenDelayMs: 15 });
    const port = await freePort();
    const dataDir = tempDataDir();
    let gw = await startGateway(env({ PORT: String(port), DATA_DIR: dataDir }));
    try {
      const client = sdk(gw.url);
      const shutdowns: unknown[] = [];
      client.on('shutdown', (s) => shutdowns.push(s));
      await client.connect();
      const session = await client.createSession('echo');
      const seen = record(session);
      await session.join();
      session.runTurn(LONG_PROMPT);
      await eventually(() => seen.all.filter((e) => e.type === 'text_delta').length >= 5, 'deltas');

      expect(await gw.stop('SIGTERM')).toBe(0);
      expect(shutdowns).toHaveLength(1);
      await eventually(() => client.state === 'reconnecting', 'reconnecting');
      gw = await startGateway(env({ PORT: String(port), DATA_DIR: dataDir }));
      await eventually(() => client.state === 'open', 'reconnected');

      // The re-join activated the session again; a new turn runs to completion on the new process.
      const outcome = await session.runTurn('after the restart').outcome;
      expect(outcome).toMatchObject({ status: 'complete', finalText: 'after the restart' });
      await expectExactlyOnce(gw.url, session.id, seen.durable);
    } finally {
      await gw.stop();
    }
  });

  it('retries a request the gateway answered RATE_LIMITED (matched by its requestId) after retryAfterMs', async () => {
    const gw = await startGateway(env({ WS_RATE_LIMIT_MAX: '3', WS_RATE_LIMIT_WINDOW_MS: '1000' }));
    try {
      const client = new Diminuendo({ url: gw.url, rateLimitRetries: 5 });
      clients.push(client);
      await client.connect();
      // Six at once against a window of three: the refused ones come back with their requestId and are
      // resent once the window allows them.
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => client.request<any>({ type: 'list_sessions' })),
      );
      expect(answers.map((a) => a.type)).toEqual(Array(6).fill('session_list'));
      await new Promise((r) => setTimeout(r, 1100));
      const burst = Array.from({ length: 4 }, () =>
        client.request<any>({ type: 'ping' }, { rateLimitRetries: 0 }).then(
          () => 'pong',
          (e: { code?: string; retryAfterMs?: number }) => [e.code, (e.retryAfterMs ?? 0) > 0],
        ),
      );
      expect(await Promise.all(burst)).toEqual(['pong', 'pong', 'pong', ['RATE_LIMITED', true]]);
    } finally {
      await gw.stop();
    }
  });
});
