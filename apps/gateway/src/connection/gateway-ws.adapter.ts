import type { INestApplication } from '@nestjs/common';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { WsAdapter } from '@nestjs/platform-ws';
import { isObservable, type Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import { SpanKind, failSpan, traceApi, traceContext, tracing } from '@app/common';
import type { ClientMessage } from '@app/protocol';
import type { TenantRouter } from './tenant-router';
import type { WsServerRef } from './ws-server-ref';
import type { Connection } from './connection';
import type { ConnectionRegistry } from './connection-registry';
import type { FramePipeline } from './frame-pipeline';
import type { Reply } from './reply-queue';
import type { UpgradePolicy } from './upgrade-policy';

export interface GatewayWsAdapterOptions {
  registry: ConnectionRegistry;
  frames: FramePipeline;
  upgrades: UpgradePolicy;
  /** Frames above this close the socket with 1009; below it, oversize frames get MESSAGE_TOO_LARGE. */
  hardMaxPayload: number;
  onInternalError(conn: Connection, err: unknown, requestId?: string): void;
  /** Where messages of clients whose tenant is owned by another instance go (lease mode). */
  router: TenantRouter;
  /** Receives the ws server once created (the cluster's remote clients are announced on it). */
  serverRef: WsServerRef;
}

/** Handled where the client is connected even when its tenant is owned elsewhere. */
const LOCAL_TYPES: ReadonlySet<string> = new Set(['authenticate', 'ping']);

/**
 * Answered by the session stream (the requester's copy of a published event, or a join's snapshot and
 * replay) rather than by a returned value: these start only once every earlier frame of the connection
 * has been answered, so that what they send cannot overtake an earlier answer.
 */
const STREAM_ANSWERED: ReadonlySet<string> = new Set([
  'join_session',
  'run_turn',
  'stop_turn',
  'steer',
  'answer_question',
]);

type Handlers = Map<string, MessageMappingProperties>;

/**
 * The platform-ws adapter with a total transport layer: upgrades pass the UpgradePolicy (403/503),
 * compression is off, and every frame goes through the FramePipeline, so a bad frame always gets a
 * protocol `error` instead of being dropped. Valid messages are routed by `type` to the
 * `@SubscribeMessage` handlers of every gateway on the path (one dispatcher per socket); a handler's
 * return value is sent with the request's `requestId`.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly dispatch = new WeakMap<WebSocket, Handlers>();

  constructor(
    app: INestApplication,
    private readonly opts: GatewayWsAdapterOptions,
  ) {
    super(app);
  }

  override create(port: number, options: Record<string, unknown> = {}): WebSocketServer {
    const server = super.create(port, {
      ...options,
      perMessageDeflate: false,
      // UTF-8 is checked by the FramePipeline so a bad frame gets INVALID_JSON instead of a 1007 close.
      skipUTF8Validation: true,
      maxPayload: this.opts.hardMaxPayload,
      verifyClient: (
        info: { req: import('node:http').IncomingMessage },
        done: (ok: boolean, status?: number, reason?: string) => void,
      ) => {
        const verdict = this.opts.upgrades.check(info.req);
        if (verdict.ok) done(true);
        else done(false, verdict.status, verdict.reason);
      },
    }) as WebSocketServer;
    this.opts.serverRef.server = server;
    return server;
  }

  override bindMessageHandlers(
    client: WebSocket,
    handlers: MessageMappingProperties[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    let map = this.dispatch.get(client);
    if (!map) {
      map = new Map();
      this.dispatch.set(client, map);
      const table = map;
      client.on('message', (data: Buffer, isBinary: boolean) => {
        // No frame may throw out of a socket listener (that would end the process): whatever escapes
        // is logged and closes this one socket.
        try {
          this.onFrame(client, data, isBinary, table, transform);
        } catch (err) {
          const conn = this.opts.registry.of(client);
          if (conn) this.opts.onInternalError(conn, err);
          client.terminate();
        }
      });
    }
    for (const h of handlers) map.set(h.message as string, h);
  }

  private onFrame(
    client: WebSocket,
    data: Buffer | ArrayBuffer | Buffer[],
    isBinary: boolean,
    handlers: Handlers,
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const conn = this.opts.registry.of(client);
    if (!conn) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    // A hosted remote client was already rate-limited by its own instance.
    const result = this.opts.frames.accept(buf, isBinary, () => (conn.remote ? 0 : conn.rate.hit()));
    const reply = conn.replies.begin();
    if (!result.ok) {
      conn.replies.run(reply, () =>
        conn.sendError(
          result.code,
          result.message,
          result.requestId,
          result.retryAfterMs ? { retryAfterMs: result.retryAfterMs } : {},
        ),
      );
      conn.replies.end(reply);
      return;
    }
    const message: ClientMessage = result.message;
    if (conn.forward && !LOCAL_TYPES.has(message.type)) {
      // The owner answers (its frames come back over the bus in order); the frame goes as it came,
      // already validated here, never re-serialised.
      conn.replies.end(reply);
      this.opts.router.forward(conn, result.text);
      return;
    }
    const handler = handlers.get(message.type);
    if (!handler) {
      conn.replies.run(reply, () =>
        conn.sendError('INVALID_MESSAGE', `Message type "${message.type}" is not handled`, message.requestId),
      );
      conn.replies.end(reply);
      return;
    }
    if (STREAM_ANSWERED.has(message.type) && !conn.replies.isHead(reply)) {
      void reply.head().then(() => {
        if (reply.ended) return; // the connection closed meanwhile
        this.serve(conn, reply, message, handler, transform);
      });
      return;
    }
    this.serve(conn, reply, message, handler, transform);
  }

  /** Runs the handler as part of `reply`; with tracing on, inside one span per client message. */
  private serve(
    conn: Connection,
    reply: Reply,
    message: ClientMessage,
    handler: MessageMappingProperties,
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    const tracer = tracing.tracer;
    if (!tracer) return this.run(conn, reply, message, handler, transform);
    const sessionId = (message as { sessionId?: unknown }).sessionId;
    const span = tracer.startSpan(`ws ${message.type}`, {
      kind: SpanKind.SERVER,
      attributes: {
        'diminuendo.message.type': message.type,
        'diminuendo.connection.id': conn.id,
        ...(conn.tenantId ? { 'diminuendo.tenant.id': conn.tenantId } : {}),
        ...(typeof sessionId === 'string' ? { 'diminuendo.session.id': sessionId } : {}),
      },
    });
    traceContext.with(traceApi.setSpan(traceContext.active(), span), () =>
      this.run(conn, reply, message, handler, transform, (err) => {
        if (err !== undefined) failSpan(span, err);
        span.end();
      }),
    );
  }

  /** The handler's returned value or error is the frame's answer; `done` runs once it is given. */
  private run(
    conn: Connection,
    reply: Reply,
    message: ClientMessage,
    handler: MessageMappingProperties,
    transform: (data: unknown) => Observable<unknown>,
    done?: (err?: unknown) => void,
  ): void {
    conn.replies.run(reply, () => {
      let out: unknown;
      try {
        out = handler.callback(message, message.type);
      } catch (err) {
        this.opts.onInternalError(conn, err, message.requestId);
        conn.replies.end(reply);
        done?.(err);
        return;
      }
      const stream = transform(out);
      if (!isObservable(stream)) {
        conn.replies.end(reply);
        done?.();
        return;
      }
      stream.subscribe({
        next: (response) => {
          if (response !== undefined && response !== null) conn.send(response as never, message.requestId);
        },
        error: (err: unknown) => {
          this.opts.onInternalError(conn, err, message.requestId);
          conn.replies.end(reply);
          done?.(err);
        },
        complete: () => {
          conn.replies.end(reply);
          done?.();
        },
      });
    });
  }
}
