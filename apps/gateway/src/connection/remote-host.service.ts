import type { IncomingMessage } from 'node:http';
import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CloseCode } from '@app/protocol';
import { ClusterBus } from '../cluster/cluster-bus';
import type { ClusterConfig } from '../cluster/cluster.config';
import { CLUSTER_CONFIG } from '../cluster/cluster.tokens';
import { RemoteSocket } from '../cluster/remote-socket';
import { TenantLeases } from '../cluster/tenant-leases';
import { LifecycleState } from '../lifecycle/lifecycle.state';
import { ConnectionRegistry } from './connection-registry';
import { ConnectionService } from './connection.service';
import { WsServerRef } from './ws-server-ref';

/**
 * The owner side of forwarding (lease mode): a client of another instance whose tenant this instance
 * owns is announced on the ws server as a RemoteSocket, so it is hosted by exactly the code that hosts a
 * local socket; its forwarded messages arrive as that socket's `message` events.
 */
@Injectable()
export class RemoteHost implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(RemoteHost.name);
  private readonly sockets = new Map<string, RemoteSocket>();
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
      if (this.sockets.has(key)) return;
      if (this.lifecycle.draining || !this.ws.server || !this.leases.holds(h.id.tenantId)) {
        this.refuse(h.from, h.c, 'tenant not served here');
        return;
      }
      const socket = new RemoteSocket(this.bus, h.from, h.c, h.id, h.ip, h.v);
      this.sockets.set(key, socket);
      socket.once('close', () => this.sockets.delete(key));
      const req = { url: '/ws', headers: {}, socket: { remoteAddress: h.ip } } as unknown as IncomingMessage;
      this.ws.server.emit('connection', socket, req);
    });
    this.bus.on('msg', (h, body) => {
      const socket = this.sockets.get(`${h.from}/${h.c}`);
      if (socket) socket.emit('message', Buffer.from(body, 'utf8'), false);
      else this.refuse(h.from, h.c, 'not hosted here; reconnect');
    });
    this.bus.on('ident', (h) => {
      if (h.k !== 'ident') return;
      const socket = this.sockets.get(`${h.from}/${h.c}`);
      const conn = socket && this.registry.of(socket as never);
      if (conn) this.connections.rebindRemote(conn, h.id);
      else this.refuse(h.from, h.c, 'not hosted here; reconnect');
    });
    this.bus.on('close', (h) => this.sockets.get(`${h.from}/${h.c}`)?.remoteClosed());
    this.timer = setInterval(() => void this.dropDeparted(), this.config.renewMs);
    this.timer.unref();
    this.bus.onReset(() => {
      if (this.sockets.size > 0)
        this.logger.warn(`closing ${this.sockets.size} forwarded client(s) after a bus reset`);
      for (const socket of [...this.sockets.values()])
        socket.close(CloseCode.SERVICE_RESTART, 'gateway link reset');
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
