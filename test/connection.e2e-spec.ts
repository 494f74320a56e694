import WebSocket from 'ws';
import { DiminuendoClient, ProtocolError } from '@app/client';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';

describe('connection and transport (dev mode)', () => {
  let gw: GatewayProcess;
  let sim: SimProcess;

  beforeAll(async () => {
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'development',
      WS_RATE_LIMIT_MAX: '20',
      WS_RATE_LIMIT_WINDOW_MS: '2000',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
    });
  });
  afterAll(async () => {
    await gw.stop();
    await sim.stop();
  });

  function rawSocket(query = ''): Promise<{ ws: WebSocket; frames: any[] }> {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/ws${query}`);
    const frames: any[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    return new Promise((res, rej) => {
      ws.once('open', () => res({ ws, frames }));
      ws.once('error', rej);
    });
  }

  async function until(frames: any[], n: number): Promise<void> {
    const start = Date.now();
    while (frames.length < n) {
      if (Date.now() - start > 5000)
        throw new Error(`only ${frames.length} frames: ${JSON.stringify(frames)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('sends welcome, connected and authenticated, in that order, to a plain ws client', async () => {
    const { ws, frames } = await rawSocket();
    await until(frames, 3);
    expect(frames[0]).toEqual({ type: 'welcome', protocolVersion: 1, requiresAuth: false });
    expect(frames[1]).toMatchObject({ type: 'connected', heartbeatIntervalMs: 30000 });
    expect(frames[1].clientId).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof frames[1].ts).toBe('number');
    expect(frames[2]).toEqual({
      type: 'authenticated',
      identity: { userId: 'dev-user-001', email: 'developer@example.com', tenantId: 'dev', role: 'owner' },
    });
    ws.close();
  });

  it('answers ping with pong, echoing clientTs and requestId', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const pong = await c.request({ type: 'ping', clientTs: 42, requestId: 'r-1' });
    expect(pong).toMatchObject({ type: 'pong', clientTs: 42, requestId: 'r-1' });
    expect(typeof (pong as any).ts).toBe('number');
    await c.close();
  });

  it('negotiates the protocol version and refuses a version it does not speak with 1002', async () => {
    const ok = await DiminuendoClient.connect(gw.url, { query: { protocolVersions: '1,2' } });
    expect(ok.welcome?.protocolVersion).toBe(2);
    await ok.close();
    const one = await DiminuendoClient.connect(gw.url, { query: { protocolVersions: '1,3' } });
    expect(one.welcome?.protocolVersion).toBe(1);
    await one.close();

    const { ws, frames } = await rawSocket('?protocolVersion=7');
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    expect(await closed).toBe(1002);
    expect(frames[0]).toMatchObject({ type: 'welcome', protocolVersion: 1 });
    expect(frames[1]).toMatchObject({ type: 'error', code: 'PROTOCOL_VERSION_MISMATCH' });
  });

  it('answers every malformed frame with the protocol error and keeps the socket usable', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const errors: any[] = [];
    c.on('error', (e) => errors.push(e));

    c.sendRaw('{"type": "ping",');
    c.sendRaw('[1,2,3]');
    c.sendRaw(JSON.stringify({ type: 'no_such_message', requestId: 'u1' }));
    c.sendRaw(JSON.stringify({ type: 'rename_session', sessionId: 's', requestId: 'm1' })); // name missing
    c.sendRaw(JSON.stringify({ type: 'create_session', agentType: 42, requestId: 'm2' })); // wrong type
    c.sendRaw(Buffer.from([0xff, 0xfe, 0x7b]), false);
    c.sendRaw(Buffer.from('{"type":"ping"}'), true);
    c.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(1024 * 1024 + 10) }));
    c.sendRaw('{"type":"ping","__proto__":{"polluted":true},"requestId":"p1"}');

    const pong = await c.request({ type: 'ping', requestId: 'after' });
    expect(pong.type).toBe('pong');
    const codes = errors.map((e) => e.code);
    expect(codes).toEqual([
      'INVALID_JSON',
      'INVALID_MESSAGE',
      'INVALID_MESSAGE',
      'INVALID_MESSAGE',
      'INVALID_MESSAGE',
      'INVALID_JSON',
      'INVALID_MESSAGE',
      'MESSAGE_TOO_LARGE',
    ]);
    expect(errors[2]).toMatchObject({ requestId: 'u1' });
    expect(errors[3]).toMatchObject({ requestId: 'm1' });
    expect(errors[4]).toMatchObject({ requestId: 'm2' });
    expect(errors.every((e) => !('sessionId' in e) && !('seq' in e) && !('ts' in e))).toBe(true);
    // The __proto__ frame was a valid ping: answered, nothing polluted.
    expect(c.log.some((e) => e.type === 'pong' && e.requestId === 'p1')).toBe(true);
    await c.close();
  });

  it('rate-limits above the window with retryAfterMs, drops the message, and recovers', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const answers: any[] = [];
    c.on('*', (e) => {
      if (e.type === 'pong' || e.type === 'error') answers.push(e);
    });
    for (let i = 0; i < 25; i++) c.send({ type: 'ping', requestId: `r${i}` });
    const deadline = Date.now() + 5000;
    while (answers.length < 25 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const pongs = answers.filter((a) => a.type === 'pong');
    const limited = answers.filter((a) => a.type === 'error');
    expect(pongs).toHaveLength(20);
    expect(limited).toHaveLength(5);
    for (const e of limited) {
      expect(e.code).toBe('RATE_LIMITED');
      expect(e.retryAfterMs).toBeGreaterThan(0);
      expect(e.retryAfterMs).toBeLessThanOrEqual(2000);
    }
    await new Promise((r) => setTimeout(r, limited[0].retryAfterMs + 50));
    await expect(c.request({ type: 'ping' })).resolves.toMatchObject({ type: 'pong' });
    await c.close();
  });

  it('serves health with HSTS and the usual security headers', async () => {
    const res = await fetch(`${gw.url}/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=31536000/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const body: any = await res.json();
    expect(body.status).toBe('ok');
    expect(body.details.dataDir.status).toBe('up');
    expect(body.protocolVersion).toBe(1);
    const live = await fetch(`${gw.url}/health/live`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });
    expect(live.headers.get('strict-transport-security')).toMatch(/max-age=31536000/);
    expect(live.headers.get('x-content-type-options')).toBe('nosniff');
    const ready = await fetch(`${gw.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(body.details.podium.status).toBe('up');
    // Embedded defaults: no shared services, so none is reported.
    expect(Object.keys(body.details).sort()).toEqual(['dataDir', 'lifecycle', 'podium']);
  });

  it('reports Podium down as degraded (200) on /health and /health/ready, while staying live', async () => {
    const lonely = await startGateway({ NODE_ENV: 'development', PODIUM_URL: 'http://127.0.0.1:9' });
    try {
      const res = await fetch(`${lonely.url}/health`);
      expect(res.status).toBe(200);
      const body: any = await res.json();
      expect(body.status).toBe('degraded');
      expect(body.details.podium.status).toBe('down');
      expect(body.details.dataDir.status).toBe('up');
      expect((await fetch(`${lonely.url}/health/ready`)).status).toBe(200);
      expect((await fetch(`${lonely.url}/health/live`)).status).toBe(200);
    } finally {
      await lonely.stop();
    }
  });

  it('throws a ProtocolError from request() when the answer is an error', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const err = await c.request({ type: 'rename_session', sessionId: 'nope', name: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err.code).toBe('SESSION_NOT_FOUND');
    await c.close();
  });
});
