import { backoffDelay, shutdownDelay, tokenExpiry, type BackoffOptions } from './backoff';
import { DiminuendoError } from './errors';
import { Emitter } from './emitter';
import { SessionHandle } from './session';
import { SessionList } from './session-list';
import type {
  ClientMessage,
  ConnectedEvent,
  BatchFrame,
  ErrorEvent,
  Frame,
  Identity,
  ServerEventOf,
  ServerEventType,
  ServerShutdownEvent,
  SessionEvent,
  StateSnapshotEvent,
} from './wire';

/** The part of the WebSocket API the SDK uses: the browser's `WebSocket` and the `ws` package both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: { message?: string; error?: unknown }) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ReconnectOptions extends BackoffOptions {
  /** Default true. */
  enabled?: boolean;
  /** Give up (state `closed`) after this many failed attempts in a row. Default: never. */
  maxAttempts?: number;
}

export interface DiminuendoOptions {
  /** The gateway: `https://host`, `wss://host` or the full `/ws` URL. */
  url: string;
  /** A JWT or an API key (`dim_<tenant>_<secret>`). Omit in dev mode. */
  token?: string;
  /** Called for every (re-)authentication; wins over `token`. */
  getToken?: () => string | Promise<string>;
  /** A WebSocket implementation (default: the global one; the Node entry uses `ws`). */
  WebSocket?: WebSocketConstructor;
  reconnect?: ReconnectOptions;
  /** Default timeout of `request` (ms). Default 15,000. */
  requestTimeoutMs?: number;
  /**
   * Requests made while (re)connecting wait in a bounded queue and are sent after re-authentication.
   * `false`: they fail at once with NOT_CONNECTED. Default `{ max: 100 }`.
   */
  queue?: { max: number } | false;
  /** How many times a request answered RATE_LIMITED is resent after `retryAfterMs`. Default 1. */
  rateLimitRetries?: number;
  /** Re-authenticate this long before a JWT's `exp` (ms). Default 60,000 (or half the lifetime if shorter). */
  refreshBeforeExpiryMs?: number;
  /** Source of randomness for jitter (tests). Default Math.random. */
  random?: () => number;
  /**
   * Protocol versions offered, the highest common one wins. Default `[1, 2]`: version 2 coalesces the
   * frames of one server turn into one `batch` frame, which the SDK unpacks (same events, same order).
   */
  protocolVersions?: number[];
}

export interface RequestOptions {
  timeoutMs?: number;
  /** Overrides the client's `rateLimitRetries` for this request. */
  rateLimitRetries?: number;
}

interface ClientEvents extends Record<string, unknown> {
  /** The connection state changed. */
  state: ConnectionState;
  /** Authenticated (first time, after every reconnect and after a token refresh). */
  authenticated: Identity;
  /** Every frame received, before the SDK routes it. */
  frame: Frame;
  /** An `error` that answers no request, or a failure of the connection. */
  error: DiminuendoError;
  /** The gateway announced it is going away; the SDK reconnects after `reconnectAfterMs` with jitter. */
  shutdown: ServerShutdownEvent;
}

interface Pending {
  message: ClientMessage & { requestId: string };
  resolve: (frame: Frame) => void;
  reject: (err: DiminuendoError) => void;
  timer: ReturnType<typeof setTimeout>;
  retriesLeft: number;
  sent: boolean;
}

/** Close codes after which the SDK reconnects (4001: with a fresh token). */
const RECONNECT_CODES = new Set([1001, 1006, 1011, 1012, 1013]);
const REFUSAL_STATUS = /\b(401|403)\b/;
const OPEN = 1;

/**
 * A connection to the Diminuendo gateway that stays up: it authenticates (and re-authenticates before
 * a JWT expires), reconnects with backoff, re-joins the sessions it had joined and delivers their
 * durable events exactly once, in `seq` order.
 */
export class Diminuendo {
  private readonly options: DiminuendoOptions;
  private readonly events = new Emitter<ClientEvents>();
  private readonly pending = new Map<string, Pending>();
  private readonly queue: string[] = [];
  private readonly sessionHandles = new Map<string, SessionHandle>();
  private ws: WebSocketLike | null = null;
  private stateValue: ConnectionState = 'closed';
  private identityValue: Identity | undefined;
  private everOpened = false;
  private stopped = true;
  private handshake: { authRequestId?: string; refused?: DiminuendoError } | null = null;
  private firstConnect: { resolve: (i: Identity) => void; reject: (e: DiminuendoError) => void } | null =
    null;
  private attempts = 0;
  private shutdownNotice: ServerShutdownEvent | null = null;
  private heartbeatMs = 30_000;
  private requiresAuth = true;
  private lastReceivedAt = 0;
  private pingSent = false;
  private livenessTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private token: string | undefined;
  private ids = 0;
  private readonly idPrefix = Math.random().toString(36).slice(2, 8);
  private sessionListStore: SessionList | undefined;

  constructor(options: DiminuendoOptions) {
    this.options = options;
    this.token = options.token;
    // Browsers say when the network goes away and comes back: drop at once, reconnect at once.
    const target = globalThis as { addEventListener?: (name: string, listener: () => void) => void };
    target.addEventListener?.('offline', () => {
      if (!this.stopped && this.stateValue === 'open') this.drop('the browser went offline');
    });
    target.addEventListener?.('online', () => {
      if (!this.stopped && this.stateValue === 'reconnecting' && !this.ws) {
        this.attempts = 0;
        this.open();
      }
    });
  }

  get state(): ConnectionState {
    return this.stateValue;
  }
  /** Who the gateway authenticated (undefined before the first `authenticated`). */
  get identity(): Identity | undefined {
    return this.identityValue;
  }

  /** Subscribes to a client event; returns the unsubscribe function. */
  on<K extends keyof ClientEvents>(name: K, listener: (value: ClientEvents[K]) => void): () => void {
    return this.events.on(name, listener);
  }

  /** Opens the connection; resolves once authenticated. A refused first connection rejects and does not retry. */
  connect(): Promise<Identity> {
    if (!this.stopped) return Promise.reject(new DiminuendoError('INVALID_STATE', 'already connected'));
    this.stopped = false;
    this.everOpened = false;
    this.attempts = 0;
    return new Promise<Identity>((resolve, reject) => {
      this.firstConnect = { resolve, reject };
      this.open();
    });
  }

  /** Closes for good: pending and queued requests fail with CLOSED; no reconnect. */
  close(): void {
    this.stopped = true;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      ws.close(1000);
    }
    this.teardownSocket(new DiminuendoError('CLOSED', 'client closed'));
    this.failQueued(new DiminuendoError('CLOSED', 'client closed'));
    this.firstConnect?.reject(new DiminuendoError('CLOSED', 'client closed'));
    this.firstConnect = null;
    this.setState('closed');
  }

  /**
   * Sends a message and resolves with the frame that answers it; an `error` answer rejects with a
   * DiminuendoError carrying its protocol `code`. While (re)connecting the message waits in the queue.
   */
  request<F extends Frame = Frame>(
    message: ClientMessage & { requestId?: string },
    options: RequestOptions = {},
  ): Promise<F> {
    const requestId = message.requestId ?? `${this.idPrefix}-${++this.ids}`;
    const timeoutMs = options.timeoutMs ?? this.options.requestTimeoutMs ?? 15_000;
    return new Promise<F>((resolve, reject) => {
      if (this.pending.has(requestId)) {
        reject(new DiminuendoError('INVALID_MESSAGE', `requestId ${requestId} is already pending`));
        return;
      }
      const entry: Pending = {
        message: { ...message, requestId },
        resolve: resolve as (frame: Frame) => void,
        reject,
        retriesLeft: options.rateLimitRetries ?? this.options.rateLimitRetries ?? 1,
        sent: false,
        timer: setTimeout(() => {
          this.forget(requestId);
          reject(new DiminuendoError('TIMEOUT', `no answer to ${message.type} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      if (this.stateValue === 'open') {
        this.pending.set(requestId, entry);
        this.transmit(entry);
        return;
      }
      const queue = this.options.queue ?? { max: 100 };
      if (this.stopped || queue === false || this.queue.length >= queue.max) {
        clearTimeout(entry.timer);
        reject(
          new DiminuendoError(
            this.stopped ? 'CLOSED' : 'NOT_CONNECTED',
            this.stopped ? 'client closed' : 'not connected and the queue is full or off',
          ),
        );
        return;
      }
      this.pending.set(requestId, entry);
      this.queue.push(requestId);
    });
  }

  /** The handle of one session (the same object for the same id). */
  session(sessionId: string): SessionHandle {
    let handle = this.sessionHandles.get(sessionId);
    if (!handle) {
      handle = new SessionHandle(sessionId, this);
      this.sessionHandles.set(sessionId, handle);
    }
    return handle;
  }

  /** The tenant's session list, kept current from the gateway's broadcasts (created lazily). */
  sessionList(): SessionList {
    if (!this.sessionListStore) this.sessionListStore = new SessionList(this);
    return this.sessionListStore;
  }

  /** Creates a session and returns its handle. */
  async createSession(agentType: string, name?: string): Promise<SessionHandle> {
    const created = await this.request<ServerEventOf<'session_created'>>({
      type: 'create_session',
      agentType,
      ...(name !== undefined ? { name } : {}),
    });
    return this.session(created.session.id);
  }

  /**
   * Calls the gateway's admin HTTP API (docs/admin-api.md) with the current credential, e.g.
   * `api('/api/v1/billing')`. A non-2xx answer rejects with a DiminuendoError carrying its `code`.
   */
  async api<T = unknown>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
    const base = new URL(wsUrl(this.options.url).replace(/^ws/, 'http'));
    const token = this.options.getToken ? await this.options.getToken() : this.token;
    const res = await fetch(new URL(path, base.origin).toString(), {
      method: init.method ?? 'GET',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
    });
    const text = await res.text();
    const body = text ? (JSON.parse(text) as { code?: string; message?: string }) : undefined;
    if (!res.ok) {
      throw new DiminuendoError(
        (body?.code ?? 'INTERNAL_ERROR') as 'INTERNAL_ERROR',
        body?.message ?? `HTTP ${res.status}`,
      );
    }
    return body as T;
  }

  // ── connection ────────────────────────────────────────────────────────────

  private open(): void {
    clearTimeout(this.reconnectTimer);
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    const Ctor = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) {
      this.fail(new DiminuendoError('NOT_CONNECTED', 'no WebSocket implementation: pass options.WebSocket'));
      return;
    }
    let ws: WebSocketLike;
    try {
      ws = new Ctor(wsUrl(this.options.url, this.options.protocolVersions ?? [1, 2]));
    } catch (err) {
      this.fail(new DiminuendoError('REFUSED', `cannot open ${this.options.url}: ${String(err)}`));
      return;
    }
    this.ws = ws;
    this.handshake = {};
    this.shutdownNotice = null;
    this.lastReceivedAt = Date.now();
    ws.onmessage = (event) => {
      if (this.ws === ws) this.receive(typeof event.data === 'string' ? event.data : String(event.data));
    };
    ws.onerror = (event) => {
      const text = event?.message ?? (event?.error instanceof Error ? event.error.message : '');
      if (this.ws === ws && this.handshake && REFUSAL_STATUS.test(text)) {
        this.handshake.refused = new DiminuendoError(
          'REFUSED',
          `the gateway refused the connection (${text})`,
        );
      }
    };
    ws.onclose = (event) => {
      if (this.ws === ws) this.onClosed(event.code, event.reason);
    };
  }

  private receive(text: string): void {
    let frame: Frame | BatchFrame;
    try {
      frame = JSON.parse(text) as Frame | BatchFrame;
    } catch {
      return;
    }
    this.lastReceivedAt = Date.now();
    this.pingSent = false;
    if (frame.type !== 'batch') return this.route(frame);
    const ws = this.ws;
    for (const event of frame.events) {
      // A handler may close or replace the socket: the rest of the batch belongs to the old one.
      if (this.ws !== ws) return;
      this.route(event);
    }
  }

  /** One event, whether it arrived alone or in a v2 batch. */
  private route(frame: Frame): void {
    this.events.emit('frame', frame);
    switch (frame.type) {
      case 'welcome':
        this.requiresAuth = frame.requiresAuth;
        return;
      case 'connected':
        return this.onConnected(frame);
      case 'authenticated':
        return this.onAuthenticated(frame.identity);
      case 'server_shutdown':
        this.shutdownNotice = frame;
        this.events.emit('shutdown', frame);
        return;
      case 'state_snapshot':
        // Routed synchronously: the replay that follows must find the handle already re-synced.
        this.sessionHandles.get(frame.sessionId)?.onSnapshot(frame as StateSnapshotEvent);
        break;
      case 'error':
        if (
          this.handshake &&
          frame.requestId !== undefined &&
          frame.requestId === this.handshake.authRequestId
        ) {
          this.handshake.refused = new DiminuendoError(frame.code, frame.message, frame.retryAfterMs);
          this.ws?.close(1000);
          return;
        }
        break;
    }
    if (isSessionEvent(frame)) this.sessionHandles.get(frame.sessionId)?.receive(frame);
    if (frame.requestId !== undefined) this.answer(frame);
    else if (frame.type === 'error') this.events.emit('error', toError(frame as ErrorEvent));
  }

  private onConnected(frame: ConnectedEvent): void {
    this.heartbeatMs = frame.heartbeatIntervalMs || 30_000;
    if (this.requiresAuth) void this.authenticate();
  }

  /** Sends `authenticate` with the current token (dev mode authenticates by itself). */
  private async authenticate(): Promise<void> {
    const ws = this.ws;
    let token: string | undefined;
    try {
      token = this.options.getToken ? await this.options.getToken() : this.token;
    } catch (err) {
      this.events.emit('error', new DiminuendoError('AUTH_FAILED', `getToken failed: ${String(err)}`));
    }
    if (!ws || ws !== this.ws || ws.readyState !== OPEN) return;
    if (!token) {
      if (this.handshake) {
        this.handshake.refused = new DiminuendoError('UNAUTHENTICATED', 'the gateway requires a token');
        ws.close(1000);
      }
      return;
    }
    this.token = token;
    const requestId = `${this.idPrefix}-auth-${++this.ids}`;
    if (this.handshake) this.handshake.authRequestId = requestId;
    ws.send(JSON.stringify({ type: 'authenticate', token, requestId }));
  }

  private onAuthenticated(identity: Identity): void {
    this.identityValue = identity;
    this.scheduleRefresh();
    if (!this.handshake) {
      this.events.emit('authenticated', identity);
      return;
    }
    this.handshake = null;
    this.everOpened = true;
    this.attempts = 0;
    this.setState('open');
    this.startLiveness();
    this.events.emit('authenticated', identity);
    for (const handle of this.sessionHandles.values()) handle.resync();
    for (const id of this.queue.splice(0)) {
      const entry = this.pending.get(id);
      if (entry) this.transmit(entry);
    }
    this.firstConnect?.resolve(identity);
    this.firstConnect = null;
  }

  private onClosed(code: number, reason: string): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) detach(ws);
    const refused = this.handshake?.refused;
    const duringHandshake = this.handshake !== null;
    this.teardownSocket(new DiminuendoError('DISCONNECTED', `connection closed (${code}) before the answer`));
    if (this.stopped) return;
    if (refused) return this.fail(refused);
    if (duringHandshake && !this.everOpened) {
      return this.fail(
        new DiminuendoError('REFUSED', `could not connect (close ${code}${reason ? `: ${reason}` : ''})`),
      );
    }
    const reconnect = this.options.reconnect ?? {};
    const retry =
      reconnect.enabled !== false &&
      (RECONNECT_CODES.has(code) || (code === 4001 && this.options.getToken !== undefined));
    if (!retry)
      return this.fail(
        new DiminuendoError('CLOSED', `connection closed (${code}${reason ? `: ${reason}` : ''})`),
      );
    if (reconnect.maxAttempts !== undefined && this.attempts >= reconnect.maxAttempts) {
      return this.fail(new DiminuendoError('NOT_CONNECTED', `gave up after ${this.attempts} attempts`));
    }
    const random = this.options.random ?? Math.random;
    const delay =
      this.shutdownNotice?.reconnectAfterMs !== undefined
        ? shutdownDelay(this.shutdownNotice.reconnectAfterMs, reconnect, random)
        : backoffDelay(this.attempts, reconnect, random);
    this.attempts++;
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /** Drops a connection that looks dead, at once, without waiting for a closing handshake. */
  private drop(reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    detach(ws);
    try {
      // `ws` (Node) can destroy the socket at once; a browser closes it in the background.
      const terminate = (ws as { terminate?: () => void }).terminate;
      if (terminate) terminate.call(ws);
      else ws.close(4000, reason);
    } catch {
      // already closing
    }
    this.onClosed(1006, reason);
  }

  private fail(error: DiminuendoError): void {
    this.stopped = true;
    this.failQueued(error);
    this.setState('closed');
    if (this.firstConnect) {
      this.firstConnect.reject(error);
      this.firstConnect = null;
    } else {
      this.events.emit('error', error);
    }
  }

  /** Clears the socket's timers; requests sent on it fail (their answer may never come), queued ones stay. */
  private teardownSocket(error: DiminuendoError): void {
    clearInterval(this.livenessTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    this.handshake = null;
    for (const [id, entry] of [...this.pending]) {
      if (!entry.sent) continue;
      this.forget(id);
      entry.reject(new DiminuendoError(error.code, error.message, undefined, id));
    }
    for (const handle of this.sessionHandles.values()) handle.onDisconnected();
  }

  private failQueued(error: DiminuendoError): void {
    for (const id of this.queue.splice(0)) {
      const entry = this.pending.get(id);
      if (!entry) continue;
      this.forget(id);
      entry.reject(error);
    }
  }

  private startLiveness(): void {
    clearInterval(this.livenessTimer);
    this.livenessTimer = setInterval(
      () => {
        const idle = Date.now() - this.lastReceivedAt;
        if (idle >= 2 * this.heartbeatMs) return this.drop('no traffic for two heartbeat intervals');
        if (idle >= this.heartbeatMs && !this.pingSent && this.ws?.readyState === OPEN) {
          this.pingSent = true;
          this.ws.send(JSON.stringify({ type: 'ping', clientTs: Date.now() }));
        }
      },
      Math.max(50, Math.floor(this.heartbeatMs / 4)),
    );
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    // Without getToken there is nothing newer to send; the gateway closes with 4001 at `exp`.
    const exp = this.options.getToken && this.token ? tokenExpiry(this.token) : undefined;
    if (exp === undefined) return;
    const lifetime = exp * 1000 - Date.now();
    const before = Math.min(this.options.refreshBeforeExpiryMs ?? 60_000, lifetime / 2);
    this.refreshTimer = setTimeout(() => void this.authenticate(), Math.max(0, lifetime - before));
  }

  private transmit(entry: Pending): void {
    entry.sent = true;
    this.ws?.send(JSON.stringify(entry.message));
  }

  private answer(frame: Frame): void {
    const id = frame.requestId!;
    const entry = this.pending.get(id);
    if (!entry) {
      if (frame.type === 'error') this.events.emit('error', toError(frame as ErrorEvent));
      return;
    }
    if (frame.type !== 'error') {
      this.forget(id);
      entry.resolve(frame);
      return;
    }
    if (frame.code === 'RATE_LIMITED' && entry.retriesLeft > 0) {
      entry.retriesLeft--;
      entry.sent = false;
      setTimeout(() => {
        if (this.pending.get(id) !== entry) return;
        if (this.stateValue === 'open') this.transmit(entry);
        else this.queue.push(id);
      }, frame.retryAfterMs ?? 1000);
      return;
    }
    this.forget(id);
    entry.reject(toError(frame as ErrorEvent));
  }

  private forget(id: string): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(id);
    const i = this.queue.indexOf(id);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private setState(state: ConnectionState): void {
    if (state === this.stateValue) return;
    this.stateValue = state;
    this.events.emit('state', state);
  }
}

function toError(frame: ErrorEvent & { requestId?: string }): DiminuendoError {
  return new DiminuendoError(frame.code, frame.message, frame.retryAfterMs, frame.requestId);
}

function detach(ws: WebSocketLike): void {
  ws.onopen = ws.onmessage = ws.onclose = null;
  ws.onerror = () => undefined;
}

function isSessionEvent(frame: Frame): frame is SessionEvent & { requestId?: string } {
  return (
    typeof (frame as { seq?: unknown }).seq === 'number' &&
    typeof (frame as { sessionId?: unknown }).sessionId === 'string'
  );
}

/**
 * `https://h` → `wss://h/ws`; a URL already ending in `/ws` is kept. `protocolVersions` is added to the
 * query unless the URL names versions itself.
 */
export function wsUrl(url: string, protocolVersions?: readonly number[]): string {
  const target = new URL(url.replace(/^http/, 'ws'));
  if (!target.pathname.endsWith('/ws')) target.pathname = target.pathname.replace(/\/?$/, '/ws');
  const query = target.searchParams;
  if (protocolVersions?.length && !query.has('protocolVersions') && !query.has('protocolVersion'))
    query.set('protocolVersions', protocolVersions.join(','));
  return target.toString();
}

export type { ServerEventType };
