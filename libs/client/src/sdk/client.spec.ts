import { Diminuendo, type WebSocketLike } from './client';
import type { DiminuendoError } from './errors';

/**
 * Rules of the gateway that this branch's gateway does not produce yet (they are being added in
 * parallel: RATE_LIMITED echoing the requestId, a JWT's exp closing the socket with 4001). A stand-in
 * socket plays the gateway's side of the wire, frame by frame, as protocol.md specifies it.
 */
class WireSocket implements WebSocketLike {
  static opened: WireSocket[] = [];
  readyState = 0;
  sent: Array<Record<string, unknown>> = [];
  onopen: WebSocketLike['onopen'] = null;
  onmessage: WebSocketLike['onmessage'] = null;
  onclose: WebSocketLike['onclose'] = null;
  onerror: WebSocketLike['onerror'] = null;
  constructor(readonly url: string) {
    WireSocket.opened.push(this);
    setImmediate(() => {
      this.readyState = 1;
      this.onopen?.({});
      this.push({ type: 'welcome', protocolVersion: 1, requiresAuth: true });
      this.push({ type: 'connected', clientId: 'c1', heartbeatIntervalMs: 30_000, ts: 0 });
    });
  }
  send(data: string): void {
    const frame = JSON.parse(data) as Record<string, unknown>;
    this.sent.push(frame);
    if (frame.type === 'authenticate') {
      const identity = { userId: 'u1', email: 'u@example.com', tenantId: 't1', role: 'member' };
      setImmediate(() => this.push({ type: 'authenticated', identity, requestId: frame.requestId }));
    }
  }
  close(code = 1000, reason = ''): void {
    this.readyState = 3;
    setImmediate(() => this.onclose?.({ code, reason }));
  }
  push(frame: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

/** Polls `check` for up to 5 s of wall time (timers such as `retryAfterMs` must get their turn). */
async function until(check: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
  if (!check()) throw new Error('condition never met');
}

describe('Diminuendo client on the wire', () => {
  beforeEach(() => {
    WireSocket.opened = [];
  });

  it('resends a request answered RATE_LIMITED after retryAfterMs, then resolves with its answer', async () => {
    const client = new Diminuendo({ url: 'http://gw', token: 'dim_t1_secret', WebSocket: WireSocket });
    await client.connect();
    const ws = WireSocket.opened[0];
    const answer = client.request({ type: 'list_sessions' });
    const first = ws.sent.at(-1)!;
    ws.push({
      type: 'error',
      code: 'RATE_LIMITED',
      message: 'slow down',
      retryAfterMs: 5,
      requestId: first.requestId,
    });
    await until(() => ws.sent.filter((f) => f.type === 'list_sessions').length === 2);
    expect(ws.sent.at(-1)).toEqual(first);
    ws.push({ type: 'session_list', sessions: [], requestId: first.requestId });
    await expect(answer).resolves.toMatchObject({ type: 'session_list' });
    client.close();
  });

  it('rejects with RATE_LIMITED and retryAfterMs once the retries are used up', async () => {
    const client = new Diminuendo({
      url: 'http://gw',
      token: 'k',
      WebSocket: WireSocket,
      rateLimitRetries: 0,
    });
    await client.connect();
    const ws = WireSocket.opened[0];
    const answer = client.request({ type: 'list_sessions' });
    const { requestId } = ws.sent.at(-1)!;
    ws.push({ type: 'error', code: 'RATE_LIMITED', message: 'slow down', retryAfterMs: 700, requestId });
    await expect(answer).rejects.toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 700, requestId });
    client.close();
  });

  it('offers protocol versions 1 and 2 unless the URL or the options say otherwise', async () => {
    await new Diminuendo({ url: 'http://gw', token: 't', WebSocket: WireSocket }).connect();
    await new Diminuendo({
      url: 'http://gw/ws?protocolVersion=1',
      token: 't',
      WebSocket: WireSocket,
    }).connect();
    await new Diminuendo({
      url: 'http://gw',
      token: 't',
      WebSocket: WireSocket,
      protocolVersions: [1],
    }).connect();
    expect(WireSocket.opened.map((ws) => ws.url)).toEqual([
      'ws://gw/ws?protocolVersions=1%2C2',
      'ws://gw/ws?protocolVersion=1',
      'ws://gw/ws?protocolVersions=1',
    ]);
  });

  it('unpacks a v2 batch: each event routed in order, as if it had arrived alone', async () => {
    const client = new Diminuendo({ url: 'http://gw', token: 'dim_t1_secret', WebSocket: WireSocket });
    await client.connect();
    const ws = WireSocket.opened[0];
    const seen: string[] = [];
    client.on('frame', (f) => seen.push(`${f.type}:${(f as { requestId?: string }).requestId ?? ''}`));
    const a = client.request({ type: 'list_sessions' });
    const b = client.request({ type: 'ping' });
    const [ra, rb] = ws.sent.slice(-2).map((f) => f.requestId as string);
    ws.push({
      type: 'batch',
      events: [
        { type: 'heartbeat', ts: 1 },
        { type: 'session_list', sessions: [], requestId: ra },
        { type: 'pong', ts: 2, requestId: rb },
      ],
    });
    await expect(a).resolves.toMatchObject({ type: 'session_list' });
    await expect(b).resolves.toMatchObject({ type: 'pong' });
    expect(seen).toEqual(['heartbeat:', `session_list:${ra}`, `pong:${rb}`]);
  });

  it('on close 4001 fetches a fresh token and reconnects', async () => {
    let n = 0;
    const client = new Diminuendo({
      url: 'https://gw.example/',
      getToken: () => `token-${++n}`,
      WebSocket: WireSocket,
      reconnect: { baseMs: 1, capMs: 1 },
    });
    const states: string[] = [];
    client.on('state', (s) => states.push(s));
    await client.connect();
    expect(WireSocket.opened[0].url).toBe('wss://gw.example/ws?protocolVersions=1%2C2');
    WireSocket.opened[0].close(4001, 'token expired');
    await until(() => client.state === 'open' && WireSocket.opened.length === 2);
    expect(WireSocket.opened[1].sent[0]).toMatchObject({ type: 'authenticate', token: 'token-2' });
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    client.close();
  });

  it('does not reconnect after 4001 with a fixed token, nor after a close it was not told to retry', async () => {
    const client = new Diminuendo({ url: 'http://gw', token: 'fixed', WebSocket: WireSocket });
    const errors: DiminuendoError[] = [];
    client.on('error', (e) => errors.push(e));
    await client.connect();
    WireSocket.opened[0].close(4001, 'token expired');
    await until(() => client.state === 'closed');
    expect(WireSocket.opened).toHaveLength(1);
    expect(errors.map((e) => e.code)).toEqual(['CLOSED']);
  });

  it('queues requests made while reconnecting (bounded) and sends them after re-authentication', async () => {
    const client = new Diminuendo({
      url: 'http://gw',
      token: 'k',
      WebSocket: WireSocket,
      queue: { max: 1 },
      reconnect: { baseMs: 1, capMs: 1 },
    });
    await client.connect();
    WireSocket.opened[0].close(1006);
    await until(() => client.state === 'reconnecting');
    const queued = client.request({ type: 'list_sessions' });
    await expect(client.request({ type: 'list_sessions' })).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    await until(() => client.state === 'open');
    const ws = WireSocket.opened[1];
    expect(ws.sent.map((f) => f.type)).toEqual(['authenticate', 'list_sessions']);
    ws.push({ type: 'session_list', sessions: [], requestId: ws.sent[1].requestId });
    await expect(queued).resolves.toMatchObject({ type: 'session_list' });
    client.close();
  });
});
