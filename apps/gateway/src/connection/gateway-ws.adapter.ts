import type { INestApplication } from '@nestjs/common';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { WsAdapter } from '@nestjs/platform-ws';
import { isObservable, type Observable } from 'rxjs';
import type { WebSocket, WebSocketServer } from 'ws';
import type { ClientMessage } from '@app/protocol';
import type { TenantRouter } from '../cluster/tenant-router';
import type { WsServerRef } from './ws-server-ref';
import type { Connection } from './connection';
import type { ConnectionRegistry } from './connection-registry';
import type { FramePipeline } from './frame-pipeline';
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
      client.on('message', (data: Buffer, isBinary: boolean) =>
        this.onFrame(client, data, isBinary, table, transform),
      );
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
    if (!result.ok) {
      conn.sendError(
        result.code,
        result.message,
        result.requestId,
        result.retryAfterMs ? { retryAfterMs: result.retryAfterMs } : {},
      );
      return;
    }
    const message: ClientMessage = result.message;
    if (conn.forward && !LOCAL_TYPES.has(message.type)) {
      this.opts.router.forward(conn, message);
      return;
    }
    const handler = handlers.get(message.type);
    if (!handler) {
      conn.sendError('INVALID_MESSAGE', `Message type "${message.type}" is not handled`, message.requestId);
      return;
    }
    let out: unknown;
    try {
      out = handler.callback(message, message.type);
    } catch (err) {
      this.opts.onInternalError(conn, err, message.requestId);
      return;
    }
    const stream = transform(out);
    if (!isObservable(stream)) return;
    stream.subscribe({
      next: (response) => {
        if (response !== undefined && response !== null) conn.send(response as never, message.requestId);
      },
      error: (err: unknown) => this.opts.onInternalError(conn, err, message.requestId),
    });
  }
}
