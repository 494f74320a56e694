import { DiminuendoClient } from '@app/client';
import { startGateway, type GatewayProcess } from './support/gateway-process';

/** Deterministic PRNG so a failure can be replayed. */
function mulberry32(seed: number): () => number {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What a polluted prototype would lend every object of the gateway: the required fields of messages. */
const POISON = JSON.stringify({
  polluted: true,
  agentType: 'echo',
  sessionId: 'polluted-session',
  text: 'polluted',
  name: 'polluted',
});

/** The error code a request is answered with (undefined when it is not refused). */
async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { event?: { code?: string } }).event?.code ?? String(err);
  }
}

describe('R4: fuzzed frames against the running gateway', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({
      NODE_ENV: 'development',
      WS_RATE_LIMIT_MAX: '100000',
      WS_MAX_MESSAGE_BYTES: '65536',
    });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('answers each of 10,000 malformed frames with exactly one protocol error and keeps running', async () => {
    const rand = mulberry32(20261127);
    const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
    const garbage = () =>
      Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256)));
    const generators: (() => string | Buffer)[] = [
      () => garbage(),
      () => '{"type":"ping"'.slice(0, Math.floor(rand() * 14)),
      () => JSON.stringify({ type: pick(['nope', '', 'PING', 'constructor', '__proto__', 'toString']) }),
      () => JSON.stringify({ type: 'create_session', agentType: pick([42, null, [], {}, true, '']) }),
      () =>
        JSON.stringify({ type: 'rename_session', sessionId: pick([1, null, 'x'.repeat(200)]), name: 'n' }),
      () => JSON.stringify({ type: 'run_turn', sessionId: 's', text: pick([0, '', null]) }),
      () => `{"type":"ping","clientTs":"x","__proto__":${POISON},"constructor":{"prototype":${POISON}}}`,
      // Required fields offered only through the prototype: still invalid.
      () => `{"type":"create_session","__proto__":${POISON},"constructor":{"prototype":${POISON}}}`,
      () => `{"type":"rename_session","name":"n","__proto__":${POISON}}`,
      () => '['.repeat(5000) + ']'.repeat(5000),
      () => JSON.stringify({ type: 'ping', pad: 'x'.repeat(70_000) }),
      () => JSON.stringify(pick([null, 1, 'str', [1, 2], true])),
      () =>
        JSON.stringify({
          type: 'manage_members',
          action: pick(['explode', 'add', 'update_role']),
          role: 'emperor',
        }),
    ];
    const c = await DiminuendoClient.connect(gw.url);
    const counted = new Map<string, number>();
    let answers = 0;
    c.on('*', (e) => {
      if (e.type === 'error') {
        answers++;
        counted.set(e.code, (counted.get(e.code) ?? 0) + 1);
      } else if (e.type === 'pong') answers++;
    });
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      const frame = pick(generators)();
      c.sendRaw(frame, Buffer.isBuffer(frame) && rand() < 0.2);
    }
    const until = Date.now() + 30_000;
    while (answers < N && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(answers).toBe(N);
    // Nothing but transport-level codes: no handler ran on a malformed message.
    expect([...counted.keys()].sort()).toEqual(
      expect.arrayContaining(['INVALID_JSON', 'INVALID_MESSAGE', 'MESSAGE_TOO_LARGE']),
    );
    for (const code of counted.keys())
      expect(['INVALID_JSON', 'INVALID_MESSAGE', 'MESSAGE_TOO_LARGE']).toContain(code);
    // The socket and the process survive, and nothing was polluted.
    const pong = await c.request<any>({ type: 'ping', clientTs: 1 });
    expect(pong).toMatchObject({ type: 'pong', clientTs: 1 });
    // The gateway's own prototypes are intact, observed through its behaviour: messages whose required
    // fields a polluted Object.prototype would supply are still refused, and fresh objects it builds
    // carry no foreign key.
    expect(await refusal(c.request({ type: 'create_session' } as any))).toBe('INVALID_MESSAGE');
    expect(await refusal(c.request({ type: 'rename_session', name: 'n' } as any))).toBe('INVALID_MESSAGE');
    expect(await refusal(c.request({ type: 'run_turn' } as any))).toBe('INVALID_MESSAGE');
    const created = await c.request<any>({ type: 'create_session', agentType: 'echo' });
    expect(created.type).toBe('session_created');
    expect(JSON.stringify(created)).not.toMatch(/polluted/);
    const list = await c.request<any>({ type: 'list_sessions' });
    expect(list.sessions.map((s: { id: string }) => s.id)).toEqual([created.session.id]);
    expect(JSON.stringify(list)).not.toMatch(/polluted/);
    expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    expect(gw.output.join('\n')).not.toMatch(/unhandled|UnhandledPromiseRejection|INTERNAL_ERROR/i);
    await c.close();
  });
});
