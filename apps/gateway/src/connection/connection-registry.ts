import { createParamDecorator, Injectable, type ExecutionContext } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { Connection } from './connection';

const CONNECTION = Symbol('connection');
type Tagged = WebSocket & { [CONNECTION]?: Connection };

/** Every open connection, by socket and by tenant. */
@Injectable()
export class ConnectionRegistry {
  private readonly all = new Set<Connection>();

  add(conn: Connection): void {
    (conn.socket as Tagged)[CONNECTION] = conn;
    this.all.add(conn);
  }

  remove(conn: Connection): void {
    delete (conn.socket as Tagged)[CONNECTION];
    this.all.delete(conn);
  }

  of(socket: WebSocket): Connection | undefined {
    return (socket as Tagged)[CONNECTION];
  }

  get size(): number {
    return this.all.size;
  }

  values(): IterableIterator<Connection> {
    return this.all.values();
  }

  ofUser(tenantId: string, userId: string): Connection[] {
    return [...this.all].filter((c) => c.identity?.tenantId === tenantId && c.identity.userId === userId);
  }
}

/** The Connection of the socket that sent the current message. */
export const Conn = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): Connection => ctx.switchToWs().getClient<Tagged>()[CONNECTION]!,
);

/** The authenticated Connection (MessageGuard has already refused unauthenticated sockets). */
export type AuthedConnection = Connection & { identity: NonNullable<Connection['identity']> };
