import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { CloseCode } from '@app/protocol';
import type { Connection } from '../connection/connection';
import { ClusterBus } from './cluster-bus';
import type { ClusterConfig } from '../config/cluster.config';
import { CLUSTER_CONFIG } from './cluster.tokens';
import { unpackDeliveries } from './cluster-protocol';
import { TenantLeases } from './tenant-leases';
import { TenantRouter } from '../connection/tenant-router';

/**
 * The client side of forwarding (lease mode): a client whose tenant is owned by another instance keeps
 * its socket, handshake, authentication, frame checks and `ping` here; every other message goes to the
 * owner, which hosts it as a connection of its own, and the owner's frames (answers and the session and
 * tenant topics) come back in order. When the owner's process is gone, its clients are closed with 1012
 * so they reconnect, and the tenants are taken over here once their leases expire.
 */
@Injectable()
export class Forwarder extends TenantRouter implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(Forwarder.name);
  private readonly forwarded = new Map<string, Connection>();
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(CLUSTER_CONFIG) private readonly config: ClusterConfig,
    private readonly bus: ClusterBus,
    private readonly leases: TenantLeases,
  ) {
    super();
  }

  onModuleInit(): void {
    if (!this.bus.enabled) return;
    this.bus.on('out', (header, body) => {
      const mine = (id: string) => {
        const conn = this.forwarded.get(id);
        return conn?.forward?.owner === header.from ? conn : undefined;
      };
      for (const op of unpackDeliveries(header, body)) {
        if (op.kind === 'frame') {
          for (const id of op.ids) mine(id)?.sendFrame(op.frame, op.ephemeral);
        } else {
          const conn = mine(op.conn);
          if (conn) this.drop(conn, op.code, op.reason);
        }
      }
    });
    this.bus.onReset(() => this.dropAll(() => true, 'gateway link reset'));
    this.timer = setInterval(() => void this.watchOwners(), this.config.renewMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get count(): number {
    return this.forwarded.size;
  }

  async route(conn: Connection, identity: AuthIdentity): Promise<'local' | 'forwarded'> {
    const route = await this.leases.resolve(identity.tenantId);
    const current = conn.forward;
    if (current) {
      if (!route.self && route.owner === current.owner && conn.identity?.tenantId === identity.tenantId) {
        this.bus.send(current.owner, { k: 'ident', from: this.bus.member, c: conn.id, id: identity });
        return 'forwarded';
      }
      this.closed(conn);
    }
    if (route.self) return 'local';
    conn.forward = { owner: route.owner };
    this.forwarded.set(conn.id, conn);
    this.bus.send(route.owner, {
      k: 'open',
      from: this.bus.member,
      c: conn.id,
      id: identity,
      ip: conn.ip,
      v: conn.protocolVersion,
    });
    conn.log.info({ owner: route.owner }, 'forwarding to the owning instance');
    return 'forwarded';
  }

  forward(conn: Connection, frame: string): void {
    const owner = conn.forward?.owner;
    if (!owner) return;
    this.bus.send(owner, { k: 'msg', from: this.bus.member, c: conn.id }, frame);
  }

  closed(conn: Connection): void {
    const owner = conn.forward?.owner;
    if (!owner) return;
    conn.forward = undefined;
    this.forwarded.delete(conn.id);
    this.bus.send(owner, { k: 'close', from: this.bus.member, c: conn.id });
  }

  /**
   * Owners whose process is gone: close their clients here (1012) so they reconnect; the tenants are
   * taken over by the lease sweep (or by the first reconnecting client) once the leases expire.
   */
  private async watchOwners(): Promise<void> {
    const owners = [...new Set([...this.forwarded.values()].map((c) => c.forward!.owner))];
    let dead: string[];
    try {
      dead = await this.leases.deadAmong(owners);
    } catch {
      return; // Redis unreachable: the leases will tell
    }
    if (dead.length === 0) return;
    const gone = new Set(dead);
    this.logger.warn(`owner(s) ${dead.join(', ')} gone: their clients here are told to reconnect`);
    this.dropAll((c) => gone.has(c.forward!.owner), 'owning instance gone');
  }

  private dropAll(which: (c: Connection) => boolean, reason: string): void {
    for (const conn of [...this.forwarded.values()]) {
      if (which(conn)) this.drop(conn, CloseCode.SERVICE_RESTART, reason);
    }
  }

  /** Closes a forwarded client here; nothing is sent to its owner (which closed it or is gone). */
  private drop(conn: Connection, code: number, reason: string): void {
    this.forwarded.delete(conn.id);
    conn.forward = undefined;
    conn.close(code, reason);
  }
}
