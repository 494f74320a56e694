import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { CloseCode } from '@app/protocol';
import { ClusterBus } from './cluster-bus';
import type { InboundHeader } from './cluster-protocol';
import type { ClusterConfig } from '../config/cluster.config';
import { CLUSTER_CONFIG } from './cluster.tokens';
import { RemoteSocket } from '../connection/remote-socket';
import { TenantLeases } from './tenant-leases';
import { LifecycleState } from '../connection/lifecycle.state';
import { ConnectionRegistry } from '../connection/connection-registry';
import { ConnectionService } from '../connection/connection.service';
import { WsServerRef } from '../connection/ws-server-ref';

type OpenHeader = Extract<InboundHeader, { k: 'open' }>;

interface Arriving {
  open: OpenHeader;
  /** Forwarded messages received before the client could be hosted, in order. */
  messages: string[];
  /** A re-authentication received meanwhile. */
  ident?: AuthIdentity;
}

/**
 * The owner side of forwarding (lease mode): a client of another instance whose tenant this instance
 * owns is announced on the ws server as a RemoteSocket, so it is hosted by exactly the code that hosts a
 * local socket; its forwarded messages arrive as that socket's `message` events.
 */
@Injectable()
export class RemoteHost implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RemoteHost.name);
  private readonly sockets = new Map<string, RemoteSocket>();
  /** Clients forwarded here while this instance is still taking their tenant over. */
  private readonly arriving = new Map<string, Arriving>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    private readonly bus: ClusterBus,
    private readonly leases: TenantLeases,
    private readonly ws: WsServerRef,
    private readonly lifecycle: LifecycleState,
    private readonly connections: ConnectionService,
    private readonly registry: ConnectionRegistry,
  ) {}

  get count(): number {
    return this.sockets.size;
  }

  onModuleInit(): void {
    if (!this.bus.enabled) return;
    this.bus.on('open', (h) => {
      if (h.k !== 'open') return;
      const key = `${h.from}/${h.c}`;
      if (this.sockets.has(key) || this.arriving.has(key)) return;
      if (!this.accepting() || !this.leases.holds(h.id.tenantId)) {
        const serving = this.accepting() && this.leases.whenServing(h.id.tenantId);
        if (serving) this.awaitTakeover(key, h, serving);
        else this.refuse(h.from, h.c, 'tenant not served here');
        return;
      }
      this.host(key, h);
    });
    this.bus.on('msg', (h, body) => {
      const key = `${h.from}/${h.c}`;
      const arriving = this.arriving.get(key);
      if (arriving) {
        arriving.messages.push(body);
        return;
      }
      const socket = this.sockets.get(key);
      if (socket) socket.emit('message', Buffer.from(body, 'utf8'), false);
      else this.refuse(h.from, h.c, 'not hosted here; reconnect');
    });
    this.bus.on('ident', (h) => {
      if (h.k !== 'ident') return;
      const key = `${h.from}/${h.c}`;
      const arriving = this.arriving.get(key);
      if (arriving) {
        arriving.ident = h.id;
        return;
      }
      const socket = this.sockets.get(key);
      const conn = socket && this.registry.of(socket as never);
      if (conn) this.connections.rebindRemote(conn, h.id);
      else this.refuse(h.from, h.c, 'not hosted here; reconnect');
    });
    this.bus.on('close', (h) => {
      const key = `${h.from}/${h.c}`;
      if (this.arriving.delete(key)) return;
      this.sockets.get(key)?.remoteClosed();
    });
    this.timer = setInterval(() => void this.dropDeparted(), this.config.renewMs);
    this.timer.unref();
    this.bus.onReset(() => {
      this.arriving.clear();
      if (this.sockets.size > 0)
        this.logger.warn(`closing ${this.sockets.size} forwarded client(s) after a bus reset`);
      for (const socket of [...this.sockets.values()])
        socket.close(CloseCode.SERVICE_RESTART, 'gateway link reset');
    });
  }

  private accepting(): boolean {
    return !this.lifecycle.draining && this.ws.server !== undefined;
  }

  /** Announces a client of another instance on the ws server: it becomes an ordinary Connection. */
  private host(key: string, h: OpenHeader): RemoteSocket {
    const socket = new RemoteSocket(this.bus, h.from, h.c, h.id, h.ip, h.v);
    this.sockets.set(key, socket);
    socket.once('close', () => this.sockets.delete(key));
    const req = { url: '/ws', headers: {}, socket: { remoteAddress: h.ip } } as unknown as IncomingMessage;
    this.ws.server!.emit('connection', socket, req);
    return socket;
  }

  /**
   * The client's instance lost the lease race to this one and forwarded the client while the takeover
   * still runs here: it is hosted once the tenant is served (its messages meanwhile are kept, in order),
   * and closed only if the takeover fails.
   */
  private awaitTakeover(key: string, open: OpenHeader, serving: Promise<boolean>): void {
    const arriving: Arriving = { open, messages: [] };
    this.arriving.set(key, arriving);
    void serving.then((ok) => {
      if (this.arriving.get(key) !== arriving) return; // the client went away meanwhile
      if (!ok || !this.accepting()) {
        this.arriving.delete(key);
        this.refuse(open.from, open.c, 'tenant not served here');
        return;
      }
      const socket = this.host(key, arriving.ident ? { ...open, id: arriving.ident } : open);
      // After the connection's handlers are bound; messages arriving until then join the queue.
      setImmediate(() => {
        this.arriving.delete(key);
        for (const body of arriving.messages) {
          if (socket.readyState !== 1) break;
          socket.emit('message', Buffer.from(body, 'utf8'), false);
        }
      });
    });
  }

  /** A client this instance does not (or no longer) host: its instance closes it with 1012. */
  private refuse(member: string, connId: string, reason: string): void {
    this.bus.deliver(member, { kind: 'close', conn: connId, code: CloseCode.SERVICE_RESTART, reason });
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Clients of an instance whose process is gone will never send `close`: clean them up here. */
  private async dropDeparted(): Promise<void> {
    const members = [...new Set([...this.sockets.values()].map((s) => s.member))];
    let dead: string[];
    try {
      dead = await this.leases.deadAmong(members);
    } catch {
      return;
    }
    if (dead.length === 0) return;
    const gone = new Set(dead);
    // Closed with 1012, not just forgotten: an instance that was only frozen reads the close when it
    // resumes and tells its client to reconnect.
    for (const socket of [...this.sockets.values()]) {
      if (gone.has(socket.member)) socket.close(CloseCode.SERVICE_RESTART, 'client instance unreachable');
    }
    this.logger.warn(`dropped the clients of departed instance(s) ${dead.join(', ')}`);
  }
}
