import { Injectable } from '@nestjs/common';
import { ConnectionRegistry } from '../connection/connection-registry';
import type { Connection } from '../connection/connection';
import { Broadcaster, sessionTopic } from '../connection/broadcaster';
import { OnGatewayEvent, type GatewayEventMap } from '../connection/gateway-events';

/** Who watches which session: subscriptions dropped when a socket closes or a session is deleted. */
@Injectable()
export class SessionViewers {
  constructor(
    private readonly broadcaster: Broadcaster,
    private readonly connections: ConnectionRegistry,
  ) {}

  @OnGatewayEvent('connection.closed')
  disconnected(conn: Connection): void {
    for (const id of conn.joined) this.broadcaster.unsubscribe(sessionTopic(id), conn);
    conn.joined.clear();
  }

  /**
   * Not told on the session topic: every viewer is also on the tenant topic, where SessionsService
   * announces the delete (the requester gets it as its answer), so each client hears it once.
   */
  @OnGatewayEvent('session.deleted')
  deleted({ sessionId }: GatewayEventMap['session.deleted']): void {
    const topic = sessionTopic(sessionId);
    for (const conn of this.connections.values()) {
      if (!conn.joined.has(sessionId)) continue;
      this.broadcaster.unsubscribe(topic, conn);
      conn.joined.delete(sessionId);
    }
  }
}
