import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type {
  BatchFrame,
  ClientMessageInput,
  ErrorCode,
  ErrorEvent,
  Identity,
  ServerEvent,
  ServerEventOf,
  ServerEventType,
  WelcomeEvent,
} from '@app/protocol';

/** An `error` event answering a request. */
export class ProtocolError extends Error {
  constructor(readonly event: ErrorEvent & { requestId?: string }) {
    super(`${event.code}: ${event.message}`);
    this.name = 'ProtocolError';
  }
  get code(): ErrorCode {
    return this.event.code;
  }
}

export interface ConnectOptions {
  /** JWT or API key; omit in dev mode. */
  token?: string;
  /** Resolve `connect` only once authenticated (default true). */
  authenticate?: boolean;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Query parameters for the /ws URL (e.g. protocolVersion). */
  query?: Record<string, string>;
  /** Bind the client socket to this local address (load tests across 127.0.0.x). */
  localAddress?: string;
  /** Accept a self-signed certificate (wss:// in tests). */
  rejectUnauthorized?: boolean;
}

type Received = ServerEvent & { requestId?: string };
type Listener = (event: Received) => void;

/**
 * A typed client of the Diminuendo protocol: connect and authenticate, send any client message, await
 * its response by `requestId`, and subscribe to events.
 */
export class DiminuendoClient {
  welcome?: WelcomeEvent;
  clientId?: string;
  identity?: Identity;
  /** Every event received, in order (bounded by `maxLog`); a v2 batch's events each on their own. */
  readonly log: Received[] = [];
  /** WebSocket frames received, and how many of them were v2 batches (protocol.md §2.1). */
  framesReceived = 0;
  batchesReceived = 0;
  maxLog = 100_000;
  readonly closed: Promise<{ code: number; reason: string }>;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly waiters = new Set<() => void>();
  private readonly pending = new Map<
    string,
    { resolve: (e: Received) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();

  private constructor(readonly socket: WebSocket) {
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`connection closed (${code}) before response to ${id}`));
        }
        this.pending.clear();
        resolve({ code, reason: reason.toString() });
      });
    });
    socket.on('message', (data) => this.receive(data.toString()));
  }

  /** Opens `/ws` at `url` (http(s) or ws(s) base URL), then authenticates unless told not to. */
  static async connect(url: string, options: ConnectOptions = {}): Promise<DiminuendoClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const target = new URL(url.replace(/^http/, 'ws'));
    if (!target.pathname.endsWith('/ws')) target.pathname = target.pathname.replace(/\/?$/, '/ws');
    for (const [k, v] of Object.entries(options.query ?? {})) target.searchParams.set(k, v);
    const socket = new WebSocket(target, {
      headers: options.headers,
      perMessageDeflate: false,
      localAddress: options.localAddress,
      ...(options.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    });
    const client = new DiminuendoClient(socket);
    const welcomed = client.waitFor('welcome', timeoutMs);
    const connected = client.waitFor('connected', timeoutMs);
    // Both are awaited below; mark them handled now so a late timeout cannot surface as unhandled.
    welcomed.catch(() => undefined);
    connected.catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`upgrade refused: ${res.statusCode}`)),
      );
    });
    const [welcome, connectedEvent] = await Promise.all([welcomed, connected]).catch((err: unknown) => {
      client.stopWaiting();
      socket.terminate();
      throw err;
    });
    client.welcome = welcome;
    client.clientId = connectedEvent.clientId;
    if (options.authenticate === false) return client;
    if (client.welcome.requiresAuth) {
      if (!options.token) throw new Error('the gateway requires a token');
      const auth = await client.request({ type: 'authenticate', token: options.token }, timeoutMs);
      client.identity = (auth as ServerEventOf<'authenticated'>).identity;
    } else {
      client.identity = (await client.waitFor('authenticated', timeoutMs, true)).identity;
    }
    return client;
  }

  /** Sends a message without waiting for an answer. */
  send(message: ClientMessageInput | Record<string, unknown>): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Sends raw bytes or text (for tests of the transport layer). */
  sendRaw(data: string | Buffer, binary = false): void {
    this.socket.send(data, { binary });
  }

  /**
   * Sends a message with a `requestId` and resolves with the frame that answers it; an `error`
   * answer rejects with a ProtocolError.
   */
  request<E extends Received = Received>(message: ClientMessageInput, timeoutMs = 10_000): Promise<E> {
    const requestId = message.requestId ?? randomUUID();
    return new Promise<E>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new Error(`timed out waiting for the answer to ${message.type}`));
      }, timeoutMs);
      this.pending.set(requestId, {
        resolve: (e) => (e.type === 'error' ? reject(new ProtocolError(e as ErrorEvent)) : resolve(e as E)),
        reject,
        timer,
      });
      this.send({ ...message, requestId });
    });
  }

  /** Subscribes to one event type, or to all with '*'. Returns an unsubscribe function. */
  on<T extends ServerEventType | '*'>(
    type: T,
    listener: (
      event: T extends ServerEventType ? ServerEventOf<T> & { requestId?: string } : Received,
    ) => void,
  ): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(listener as Listener);
    return () => set.delete(listener as Listener);
  }

  /**
   * Resolves with the next event of `type` matching `predicate` (or, with `fromLog`, one already
   * received).
   */
  waitFor<T extends ServerEventType>(
    type: T,
    timeoutMs = 10_000,
    fromLog = false,
    predicate: (e: ServerEventOf<T>) => boolean = () => true,
  ): Promise<ServerEventOf<T>> {
    if (fromLog) {
      const seen = this.log.find((e) => e.type === type && predicate(e as ServerEventOf<T>));
      if (seen) return Promise.resolve(seen as ServerEventOf<T>);
    }
    return new Promise((resolve, reject) => {
      const cancel = () => {
        clearTimeout(timer);
        off();
        this.waiters.delete(cancel);
      };
      const timer = setTimeout(() => {
        cancel();
        reject(new Error(`timed out waiting for ${type}`));
      }, timeoutMs);
      timer.unref();
      const off = this.on(type, (e) => {
        if (!predicate(e as ServerEventOf<T>)) return;
        cancel();
        resolve(e as ServerEventOf<T>);
      });
      this.waiters.add(cancel);
    });
  }

  /** Events of the given types received so far. */
  received<T extends ServerEventType>(...types: T[]): ServerEventOf<T>[] {
    return this.log.filter((e) => (types as string[]).includes(e.type)) as ServerEventOf<T>[];
  }

  /** Drops every pending `waitFor` (their promises never settle). */
  stopWaiting(): void {
    for (const cancel of [...this.waiters]) cancel();
  }

  close(code = 1000): Promise<{ code: number; reason: string }> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) {
      this.socket.close(code);
    }
    return this.closed;
  }

  private receive(text: string): void {
    let frame: Received | BatchFrame;
    try {
      frame = JSON.parse(text) as Received | BatchFrame;
    } catch {
      return;
    }
    this.framesReceived++;
    if (frame.type === 'batch') {
      this.batchesReceived++;
      for (const event of (frame as BatchFrame).events) this.dispatch(event);
    } else {
      this.dispatch(frame as Received);
    }
  }

  private dispatch(event: Received): void {
    if (this.log.length < this.maxLog) this.log.push(event);
    if (event.requestId !== undefined) {
      const p = this.pending.get(event.requestId);
      if (p) {
        this.pending.delete(event.requestId);
        clearTimeout(p.timer);
        p.resolve(event);
      }
    }
    for (const key of [event.type, '*']) {
      const set = this.listeners.get(key);
      if (set) for (const l of [...set]) l(event);
    }
  }
}
