import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import type { WebSocket } from 'ws';
import { AuthService, OriginPolicy, samePrincipal, type AuthIdentity } from '@app/auth';
import {
  CloseCode,
  DomainError,
  PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type AuthenticatedEvent,
} from '@app/protocol';
import { isRemoteSocket, type RemoteSocket } from './remote-socket';
import { TenantRouter } from './tenant-router';
import type { AllConfig, AppConfig } from '../config';
import { GatewayEvents } from './gateway-events';
import { Connection } from './connection';
import { ConnectionRegistry } from './connection-registry';
import { negotiateProtocolVersion } from './protocol-version';
import { TenantMembership } from './tenant-membership';

/** The longest delay a Node timer takes; a later token expiry is reached in steps of this. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Connection lifecycle: handshake, authentication, keepalive, and clean-up on close. */
@Injectable()
export class ConnectionService implements OnModuleInit, OnApplicationShutdown {
  private readonly app: AppConfig;
  private keepalive?: NodeJS.Timeout;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly registry: ConnectionRegistry,
    private readonly membership: TenantMembership,
    private readonly auth: AuthService,
    private readonly origins: OriginPolicy,
    private readonly router: TenantRouter,
    private readonly logger: PinoLogger,
    private readonly events: GatewayEvents,
  ) {
    this.app = config.get('app', { infer: true });
    logger.setContext('Connection');
  }

  onModuleInit(): void {
    this.keepalive = setInterval(() => this.sweepKeepalive(), this.app.ws.heartbeatIntervalMs).unref();
  }

  onApplicationShutdown(): void {
    if (this.keepalive) clearInterval(this.keepalive);
  }

  /** A new socket: `welcome`, `connected`, and in dev mode `authenticated`. */
  open(socket: WebSocket, req: IncomingMessage): Connection {
    if (isRemoteSocket(socket)) return this.openRemote(socket);
    const id = randomUUID();
    const ip = this.origins.clientIp(req.headers, req.socket.remoteAddress);
    const negotiated = negotiateProtocolVersion(req.url);
    const log = this.logger.logger.child({ connId: id });
    const conn = this.register(id, socket, ip, negotiated ?? PROTOCOL_VERSION, log);
    log.debug({ ip }, 'connection opened');

    const devMode = this.auth.devMode;
    conn.send({ type: 'welcome', protocolVersion: conn.protocolVersion, requiresAuth: !devMode });
    if (negotiated === null) {
      conn.sendError(
        'PROTOCOL_VERSION_MISMATCH',
        `Supported protocol versions: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')}`,
      );
      conn.close(CloseCode.PROTOCOL_ERROR, 'protocol version mismatch');
      return conn;
    }
    conn.send({
      type: 'connected',
      clientId: id,
      heartbeatIntervalMs: this.app.ws.heartbeatIntervalMs,
      ts: Date.now(),
    });
    if (devMode) {
      void this.auth
        .authenticate('dev', ip)
        .then((identity) => (this.claim(conn, identity) ? this.bind(conn, identity) : undefined))
        .then(
          () => {
            if (conn.identity) conn.send({ type: 'authenticated', identity: publicIdentity(conn.identity) });
          },
          (err: unknown) => this.unroutable(conn, err),
        )
        .catch((err: unknown) => conn.log.error({ err }, 'dev authentication failed'));
    } else {
      conn.authDeadline = setTimeout(() => {
        if (!conn.identity) {
          log.info('authentication deadline passed');
          conn.close(CloseCode.AUTH_TIMEOUT, 'authentication timeout');
        }
      }, this.app.ws.authTimeoutMs);
      conn.authDeadline.unref();
    }
    return conn;
  }

  /**
   * The `authenticate` message: verify, bind the identity, join the tenant topic, and close the socket
   * with 4001 when the token expires. A socket's user and tenant are fixed by its first authentication:
   * later ones must name the same user and tenant and then refresh the identity (role, expiry); any
   * other is refused with AUTH_FAILED and the socket keeps what it had.
   */
  async authenticate(conn: Connection, token: string): Promise<AuthenticatedEvent> {
    const identity = await this.auth.authenticate(token, conn.ip);
    if (!this.claim(conn, identity)) {
      conn.log.warn({ via: identity.via }, 're-authentication as another user or tenant refused');
      throw new DomainError('AUTH_FAILED');
    }
    try {
      await this.bind(conn, identity);
    } catch (err) {
      this.unroutable(conn, err);
      throw err;
    }
    this.armExpiry(conn, identity);
    return { type: 'authenticated', identity: publicIdentity(identity) };
  }

  /** Fixes the socket's principal at its first verification; false when `identity` is another one. */
  private claim(conn: Connection, identity: AuthIdentity): boolean {
    if (conn.principal) return samePrincipal(conn.principal, identity);
    conn.principal = { userId: identity.userId, tenantId: identity.tenantId };
    return true;
  }

  /** One expiry timer per socket: each authentication replaces it; a credential without expiry clears it. */
  private armExpiry(conn: Connection, identity: AuthIdentity): void {
    if (conn.expiryTimer) clearTimeout(conn.expiryTimer);
    conn.expiryTimer = undefined;
    const deadline = this.auth.socketDeadline(identity);
    if (deadline === undefined || !conn.isOpen) return;
    const wait = () => {
      const left = deadline - Date.now();
      if (left <= 0) {
        conn.expiryTimer = undefined;
        conn.log.info('token expired without re-authentication');
        conn.close(CloseCode.AUTH_TIMEOUT, 'token expired');
        return;
      }
      conn.expiryTimer = setTimeout(wait, Math.min(left, MAX_TIMER_MS));
      conn.expiryTimer.unref();
    };
    wait();
  }

  /**
   * A client of another instance whose tenant this instance owns (lease mode): authenticated there,
   * so no handshake frames and no token here; it joins the tenant topic like a local client.
   */
  private openRemote(socket: RemoteSocket): Connection {
    const conn = this.register(
      socket.connId,
      socket as unknown as WebSocket,
      socket.ip,
      socket.protocolVersion,
      this.logger.logger.child({ connId: socket.connId, via: socket.member }),
    );
    this.claim(conn, socket.identity);
    this.bindHere(conn, socket.identity);
    return conn;
  }

  /** A Connection with this gateway's limits, registered and answering pongs. */
  private register(
    id: string,
    socket: WebSocket,
    ip: string,
    protocolVersion: number,
    log: Connection['log'],
  ): Connection {
    const conn = new Connection(
      id,
      socket,
      ip,
      protocolVersion,
      log,
      { max: this.app.ws.rateLimitMax, windowMs: this.app.ws.rateLimitWindowMs },
      {
        skipBytes: this.app.ws.backpressureSkipBytes,
        closeBytes: this.app.ws.backpressureCloseBytes,
        stallMs: this.app.ws.backpressureStallMs,
      },
      this.events,
    );
    this.registry.add(conn);
    socket.on('pong', () => (conn.missedPongs = 0));
    return conn;
  }

  /** A hosted remote client re-authenticated on its instance. */
  rebindRemote(conn: Connection, identity: AuthIdentity): void {
    if (conn.identity?.tenantId !== identity.tenantId) {
      conn.close(CloseCode.SERVICE_RESTART, 'tenant changed');
      return;
    }
    this.bindHere(conn, identity);
  }

  private unroutable(conn: Connection, err: unknown): void {
    conn.log.error({ err }, 'cannot reach the instance that owns the tenant');
    conn.close(CloseCode.TRY_AGAIN_LATER, 'tenant unavailable; retry');
  }

  /** Re-reads the role of a user's live connections after a membership change. */
  updateRole(tenantId: string, userId: string, role: AuthIdentity['role']): void {
    for (const conn of this.registry.ofUser(tenantId, userId)) {
      if (conn.identity && conn.identity.via === 'jwt') conn.identity = { ...conn.identity, role };
    }
  }

  async close(socket: WebSocket): Promise<void> {
    const conn = this.registry.of(socket);
    if (!conn) return;
    this.registry.remove(conn);
    this.router.closed(conn);
    if (conn.authDeadline) clearTimeout(conn.authDeadline);
    if (conn.expiryTimer) clearTimeout(conn.expiryTimer);
    if (conn.identity) this.membership.leave(conn, conn.identity.tenantId);
    this.events.emit('connection.closed', conn);
    // The connection's one info line (opened and authenticated are at debug).
    conn.log.info(
      { ip: conn.ip, via: conn.identity?.via ?? null, role: conn.identity?.role ?? null },
      'connection closed',
    );
  }

  /**
   * Binds an authenticated identity. Where the tenant is owned by another instance (lease mode), the
   * connection is forwarded there and joins nothing here; otherwise it joins the tenant topic.
   */
  private async bind(conn: Connection, identity: AuthIdentity): Promise<void> {
    const previous = conn.identity;
    const where = await this.router.route(conn, identity);
    if (!conn.isOpen && !conn.remote) {
      this.router.closed(conn);
      return;
    }
    if (where === 'local') {
      this.bindHere(conn, identity);
      return;
    }
    if (previous) this.membership.leave(conn, previous.tenantId);
    this.setIdentity(conn, identity);
    conn.log.debug({ via: identity.via, role: identity.role, owner: conn.forward?.owner }, 'authenticated');
  }

  private bindHere(conn: Connection, identity: AuthIdentity): void {
    const previous = conn.identity;
    if (previous && previous.tenantId !== identity.tenantId) {
      this.membership.leave(conn, previous.tenantId);
    }
    this.setIdentity(conn, identity);
    void this.membership
      .join(conn, identity.tenantId)
      .catch((err) => conn.log.error({ err }, 'tenant registry unavailable'));
    conn.log.debug({ via: identity.via, role: identity.role }, 'authenticated');
  }

  private setIdentity(conn: Connection, identity: AuthIdentity): void {
    conn.identity = identity;
    if (conn.authDeadline) clearTimeout(conn.authDeadline);
    conn.log = this.logger.logger.child({
      connId: conn.id,
      tenantId: identity.tenantId,
      userId: identity.userId,
      ...(conn.remote ? { remote: true } : {}),
    });
  }

  /** RFC 6455 pings; a socket that misses two pongs in a row is dropped. */
  private sweepKeepalive(): void {
    for (const conn of this.registry.values()) {
      if (conn.missedPongs >= 2) {
        conn.log.info('keepalive lost');
        conn.socket.terminate();
        continue;
      }
      conn.missedPongs++;
      try {
        conn.socket.ping();
      } catch {
        /* socket already closing */
      }
    }
  }
}

function publicIdentity(identity: AuthIdentity) {
  return { userId: identity.userId, email: identity.email, tenantId: identity.tenantId, role: identity.role };
}
