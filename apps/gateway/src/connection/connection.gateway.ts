import type { IncomingMessage } from 'node:http';
import {
  MessageBody,
  SubscribeMessage,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { AuthenticateMessage, PingMessage, type AuthenticatedEvent, type PongEvent } from '@app/protocol';
import { Conn } from './connection-registry';
import type { Connection } from './connection';
import { ConnectionService } from './connection.service';
import { ProtocolGateway } from './ws-gateway.decorator';

/** The handshake and the two messages allowed before authentication. */
@ProtocolGateway()
export class ConnectionGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(private readonly connections: ConnectionService) {}

  handleConnection(socket: WebSocket, req: IncomingMessage): void {
    this.connections.open(socket, req);
  }

  handleDisconnect(socket: WebSocket): Promise<void> {
    return this.connections.close(socket);
  }

  @SubscribeMessage('authenticate')
  authenticate(
    @Conn() conn: Connection,
    @MessageBody() msg: AuthenticateMessage,
  ): Promise<AuthenticatedEvent> {
    return this.connections.authenticate(conn, msg.token);
  }

  @SubscribeMessage('ping')
  ping(@MessageBody() msg: PingMessage): PongEvent {
    return {
      type: 'pong',
      ...(msg.clientTs !== undefined ? { clientTs: msg.clientTs } : {}),
      ts: Date.now(),
    };
  }
}
