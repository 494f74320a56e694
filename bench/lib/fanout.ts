/**
 * Subscribers of one streaming turn, through the gateway (typed client, protocol v1 or v2, one echo
 * session joined by every subscriber), the raw ws relay or the Socket.IO relay. All count deltas,
 * check `seq` per client and, for `pace:` prompts, record delivery latency from the upstream send stamp.
 */
import WebSocket from 'ws';
import { io as ioClient, type Socket } from 'socket.io-client';
import { DiminuendoClient } from '@app/client';
import {
  pool,
  postJson,
  preciseNow,
  SIM_KEY,
  sleep,
  until,
  type GatewayProcess,
  type SimProcess,
} from './common';

export interface SubStats {
  deltas: number;
  lastSeq: number;
  seqViolations: number;
  firstAt: number;
  lastAt: number;
  done: boolean;
  closedCode?: number;
}

export interface TurnRun {
  /** Deltas received over all subscribers (only those in `measured`). */
  delivered: number;
  seconds: number;
  framesPerSecond: number;
  seqViolations: number;
  lossPerSubscriber: number;
  latenciesMs: Float64Array;
  subs: SubStats[];
  /** WebSocket messages received by the measured subscribers (v2 packs several events into one). */
  messages: number;
}

export interface Fanout {
  readonly size: number;
  /** Streams `prompt` and resolves once every measured subscriber saw the turn end. */
  run(prompt: string, expectedDeltas: number, opts?: RunOptions): Promise<TurnRun>;
  close(): Promise<void>;
}

export interface RunOptions {
  timeoutMs?: number;
  latency?: boolean;
  /** Indices excluded from completion and statistics (the slow consumer of P8). */
  exclude?: Set<number>;
  /** Also end the wait when every subscriber that has not seen the turn end was closed (P10). */
  endOnClose?: boolean;
  onStarted?: () => void;
}

const STAMP = /^@(\d+\.\d+)#/;

class Recorder {
  subs: SubStats[] = [];
  lat: number[] = [];
  latency = false;
  constructor(n: number) {
    this.reset(n, false);
  }
  reset(n: number, latency: boolean): void {
    this.subs = Array.from({ length: n }, () => ({
      deltas: 0,
      lastSeq: -1,
      seqViolations: 0,
      firstAt: 0,
      lastAt: 0,
      done: false,
    }));
    this.lat = [];
    this.latency = latency;
    this.messages = 0;
  }
  messages = 0;
  delta(i: number, seq: number, text: string): void {
    const now = preciseNow();
    const s = this.subs[i];
    if (s.deltas++ === 0) s.firstAt = now;
    s.lastAt = now;
    if (seq <= s.lastSeq) s.seqViolations++;
    s.lastSeq = seq;
    if (this.latency) {
      const m = STAMP.exec(text);
      if (m) this.lat.push(now - Number(m[1]));
    }
  }
  seq(i: number, seq: number): void {
    const s = this.subs[i];
    if (seq <= s.lastSeq) s.seqViolations++;
    s.lastSeq = seq;
  }
  result(expected: number, exclude: Set<number>): TurnRun {
    const measured = this.subs.filter((_, i) => !exclude.has(i));
    const delivered = measured.reduce((n, s) => n + s.deltas, 0);
    const first = Math.min(...measured.map((s) => s.firstAt));
    const last = Math.max(...measured.map((s) => s.lastAt));
    const seconds = (last - first) / 1000;
    return {
      delivered,
      seconds,
      framesPerSecond: delivered / seconds,
      seqViolations: measured.reduce((n, s) => n + s.seqViolations, 0),
      lossPerSubscriber: Math.max(...measured.map((s) => expected - s.deltas)),
      latenciesMs: Float64Array.from(this.lat),
      subs: this.subs,
      messages: this.messages,
    };
  }
}

/**
 * Several turns run at once (one per session or room), seen as one: deliveries summed, the clock from
 * the first receive anywhere to the last.
 */
export function combineRuns(runs: TurnRun[]): TurnRun {
  const subs = runs.flatMap((r) => r.subs);
  const delivered = runs.reduce((n, r) => n + r.delivered, 0);
  const first = Math.min(...subs.filter((s) => s.deltas > 0).map((s) => s.firstAt));
  const last = Math.max(...subs.map((s) => s.lastAt));
  const seconds = (last - first) / 1000;
  return {
    delivered,
    seconds,
    framesPerSecond: delivered / seconds,
    seqViolations: runs.reduce((n, r) => n + r.seqViolations, 0),
    lossPerSubscriber: Math.max(...runs.map((r) => r.lossPerSubscriber)),
    latenciesMs: Float64Array.from(runs.flatMap((r) => Array.from(r.latenciesMs))),
    subs,
    messages: runs.reduce((n, r) => n + r.messages, 0),
  };
}

/** Handles one event as the subscriber `i` of `sessionId` sees it (a v2 `batch` is unpacked in order). */
function recordEvent(rec: Recorder, i: number, sessionId: string, e: any): void {
  if (e.type === 'batch' && Array.isArray(e.events)) {
    for (const inner of e.events) recordEvent(rec, i, sessionId, inner);
    return;
  }
  if (e.sessionId !== sessionId) return;
  if (e.type === 'text_delta') rec.delta(i, e.seq, e.text);
  else if (typeof e.seq === 'number') {
    rec.seq(i, e.seq);
    if (e.type === 'turn_complete' || e.type === 'turn_error') rec.subs[i].done = true;
  }
}

async function waitDone(
  rec: Recorder,
  exclude: Set<number>,
  timeoutMs: number,
  endOnClose = false,
): Promise<void> {
  await until(
    () => rec.subs.every((s, i) => s.done || exclude.has(i) || (endOnClose && s.closedCode !== undefined)),
    timeoutMs,
    'turn end at every subscriber',
    20,
  );
}

/**
 * N typed clients of the gateway joined to one echo session. By default the first subscriber creates
 * the session and starts the turns; with `session`, the subscribers join an existing session and its
 * `driver` (a client not counted, possibly on another gateway instance) starts the turns. With
 * `protocol: 2` the clients offer `?protocolVersions=1,2`; `protocolVersion` is what the gateway chose.
 */
export async function gatewayFanout(
  gw: GatewayProcess,
  n: number,
  localAddress = '127.0.0.1',
  session?: { id: string; driver: DiminuendoClient },
  options: { protocol?: 1 | 2 } = {},
): Promise<
  Fanout & { clients: DiminuendoClient[]; sessionId: string; protocolVersion: number; progress(): SubStats[] }
> {
  const query: Record<string, string> = options.protocol === 2 ? { protocolVersions: '1,2' } : {};
  const clients = await pool(Array.from({ length: n }), 25, () =>
    DiminuendoClient.connect(gw.url, { localAddress, query }),
  );
  const owner = session?.driver ?? clients[0];
  const sessionId: string =
    session?.id ?? (await owner.request<any>({ type: 'create_session', agentType: 'echo' })).session.id;
  const rec = new Recorder(n);
  clients.forEach((c, i) => {
    c.maxLog = 0;
    c.on('*', (e: any) => recordEvent(rec, i, sessionId, e));
    c.socket.on('message', () => rec.messages++);
    void c.closed.then(({ code }) => (rec.subs[i].closedCode = code));
  });
  await pool(clients, 25, (c) => c.request({ type: 'join_session', sessionId }));
  return {
    size: n,
    clients,
    sessionId,
    protocolVersion: clients[0]?.welcome?.protocolVersion ?? 1,
    /** The current turn's per-subscriber counts, also while it runs (diagnostics). */
    progress: () => rec.subs,
    async run(prompt, expected, opts = {}) {
      const exclude = opts.exclude ?? new Set<number>();
      rec.reset(n, opts.latency ?? false);
      // the session returns to ready just after the previous turn ended: retry a busy answer briefly
      for (let attempt = 0; ; attempt++) {
        try {
          await owner.request({ type: 'run_turn', sessionId, text: prompt });
          break;
        } catch (err) {
          if (attempt >= 100) throw err;
          await sleep(20);
        }
      }
      opts.onStarted?.();
      await waitDone(rec, exclude, opts.timeoutMs ?? 120_000, opts.endOnClose);
      return rec.result(expected, exclude);
    },
    async close() {
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** N raw ws subscribers of the baseline relay, in `room` (each room streams its own turn). */
export async function relayFanout(
  relayPort: number,
  sim: SimProcess,
  n: number,
  localAddress = '127.0.0.1',
  room = '',
): Promise<Fanout & { sockets: WebSocket[] }> {
  const rec = new Recorder(n);
  const sockets = await pool(Array.from({ length: n }), 25, async (_, i) => {
    const url = `ws://127.0.0.1:${relayPort}/?room=${encodeURIComponent(room)}`;
    const ws = new WebSocket(url, { perMessageDeflate: false, localAddress });
    await new Promise((res, rej) => {
      ws.once('message', res);
      ws.once('error', rej);
    });
    ws.on('message', (data) => {
      rec.messages++;
      const e = JSON.parse(data.toString());
      if (e.type === 'text_delta') rec.delta(i, e.seq, e.text);
      else if (typeof e.seq === 'number') {
        rec.seq(i, e.seq);
        if (e.type === 'turn_complete') rec.subs[i].done = true;
      }
    });
    ws.on('close', (code) => (rec.subs[i].closedCode = code));
    return ws;
  });
  return {
    size: n,
    sockets,
    async run(prompt, expected, opts = {}) {
      const exclude = opts.exclude ?? new Set<number>();
      rec.reset(n, opts.latency ?? false);
      await postJson(`http://127.0.0.1:${relayPort}/start`, {
        simUrl: sim.url,
        apiKey: SIM_KEY,
        prompt,
        room,
      });
      opts.onStarted?.();
      await waitDone(rec, exclude, opts.timeoutMs ?? 120_000, opts.endOnClose);
      return rec.result(expected, exclude);
    },
    async close() {
      for (const ws of sockets) ws.close();
    },
  };
}

/**
 * N socket.io-client subscribers of the Socket.IO relay (`bench/socketio-relay.js`), websocket
 * transport only, no compression, in `room`.
 */
export async function socketIoFanout(
  port: number,
  sim: SimProcess,
  n: number,
  localAddress = '127.0.0.1',
  room = '',
): Promise<Fanout & { sockets: Socket[] }> {
  const rec = new Recorder(n);
  const sockets = await pool(Array.from({ length: n }), 25, async (_, i) => {
    // No compression: the server refuses permessage-deflate, so none is negotiated.
    const socket = ioClient(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      query: { room },
      localAddress,
    } as Parameters<typeof ioClient>[1]);
    await new Promise((res, rej) => {
      socket.once('welcome', res);
      socket.once('connect_error', rej);
    });
    socket.on('event', (e: any) => {
      rec.messages++;
      if (e.type === 'text_delta') rec.delta(i, e.seq, e.text);
      else if (typeof e.seq === 'number') {
        rec.seq(i, e.seq);
        if (e.type === 'turn_complete') rec.subs[i].done = true;
      }
    });
    socket.on('disconnect', () => (rec.subs[i].closedCode = 1006));
    return socket;
  });
  return {
    size: n,
    sockets,
    async run(prompt, expected, opts = {}) {
      const exclude = opts.exclude ?? new Set<number>();
      rec.reset(n, opts.latency ?? false);
      await postJson(`http://127.0.0.1:${port}/start`, { simUrl: sim.url, apiKey: SIM_KEY, prompt, room });
      opts.onStarted?.();
      await waitDone(rec, exclude, opts.timeoutMs ?? 120_000, opts.endOnClose);
      return rec.result(expected, exclude);
    },
    async close() {
      for (const s of sockets) s.disconnect();
    },
  };
}
