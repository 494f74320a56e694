import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import {
  ArchiveSessionMessage,
  CreateSessionMessage,
  DeleteSessionMessage,
  ListSessionsMessage,
  RenameSessionMessage,
  UnarchiveSessionMessage,
} from '@app/protocol';
import { Conn, type AuthedConnection } from '../connection/connection-registry';
import { ProtocolGateway } from '../connection/ws-gateway.decorator';
import { SessionsService } from './sessions.service';

/** Session management messages. */
@ProtocolGateway()
export class SessionsGateway {
  constructor(private readonly sessions: SessionsService) {}

  @SubscribeMessage('list_sessions')
  list(@Conn() conn: AuthedConnection, @MessageBody() msg: ListSessionsMessage) {
    return this.sessions.list(conn.identity, msg.includeArchived ?? false);
  }

  @SubscribeMessage('create_session')
  create(@Conn() conn: AuthedConnection, @MessageBody() msg: CreateSessionMessage) {
    return this.sessions.create(conn, conn.identity, msg.agentType, msg.name);
  }

  @SubscribeMessage('rename_session')
  rename(@Conn() conn: AuthedConnection, @MessageBody() msg: RenameSessionMessage) {
    return this.sessions.rename(conn, conn.identity, msg.sessionId, msg.name);
  }

  @SubscribeMessage('archive_session')
  archive(@Conn() conn: AuthedConnection, @MessageBody() msg: ArchiveSessionMessage) {
    return this.sessions.archive(conn, conn.identity, msg.sessionId);
  }

  @SubscribeMessage('unarchive_session')
  unarchive(@Conn() conn: AuthedConnection, @MessageBody() msg: UnarchiveSessionMessage) {
    return this.sessions.unarchive(conn, conn.identity, msg.sessionId);
  }

  @SubscribeMessage('delete_session')
  delete(@Conn() conn: AuthedConnection, @MessageBody() msg: DeleteSessionMessage) {
    return this.sessions.delete(conn, conn.identity, msg.sessionId);
  }
}
