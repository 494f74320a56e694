import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { GetEventsMessage, GetHistoryMessage, JoinSessionMessage, LeaveSessionMessage } from '@app/protocol';
import { Conn, type AuthedConnection } from '../connection/connection-registry';
import { ProtocolGateway } from '../connection/ws-gateway.decorator';
import { SessionInteraction } from './session-interaction.service';

/** join_session, leave_session, get_events, get_history. */
@ProtocolGateway()
export class SessionInteractionGateway {
  constructor(private readonly interaction: SessionInteraction) {}

  /** Answered directly (snapshot, then replay) so nothing can slip between them. */
  @SubscribeMessage('join_session')
  async join(@Conn() conn: AuthedConnection, @MessageBody() msg: JoinSessionMessage): Promise<void> {
    await this.interaction.join(conn, conn.identity, msg.sessionId, msg.afterSeq, msg.requestId);
  }

  @SubscribeMessage('leave_session')
  leave(@Conn() conn: AuthedConnection, @MessageBody() msg: LeaveSessionMessage) {
    return this.interaction.leave(conn, conn.identity, msg.sessionId);
  }

  @SubscribeMessage('get_events')
  events(@Conn() conn: AuthedConnection, @MessageBody() msg: GetEventsMessage) {
    return this.interaction.events(conn.identity, msg.sessionId, msg.afterSeq, msg.limit);
  }

  @SubscribeMessage('get_history')
  history(@Conn() conn: AuthedConnection, @MessageBody() msg: GetHistoryMessage) {
    return this.interaction.history(conn.identity, msg.sessionId, msg.limit, msg.before);
  }
}
