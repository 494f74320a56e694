import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { AnswerQuestionMessage, RunTurnMessage, SteerMessage, StopTurnMessage } from '@app/protocol';
import { Conn, type AuthedConnection } from '../connection/connection-registry';
import { ProtocolGateway } from '../connection/ws-gateway.decorator';
import { TurnControl } from './turn-control.service';
import { TurnsService } from './turns.service';

/** Turn messages; each is answered in stream order by the event it causes (see TurnsService). */
@ProtocolGateway()
export class TurnsGateway {
  constructor(
    private readonly turns: TurnsService,
    private readonly control: TurnControl,
  ) {}

  @SubscribeMessage('run_turn')
  run(@Conn() conn: AuthedConnection, @MessageBody() msg: RunTurnMessage): Promise<void> {
    return this.turns.run(conn, conn.identity, msg.sessionId, msg.text, msg.clientTurnId, msg.requestId);
  }

  @SubscribeMessage('stop_turn')
  stop(@Conn() conn: AuthedConnection, @MessageBody() msg: StopTurnMessage): Promise<void> {
    return this.control.stop(conn, conn.identity, msg.sessionId, msg.turnId, msg.requestId);
  }

  @SubscribeMessage('steer')
  steer(@Conn() conn: AuthedConnection, @MessageBody() msg: SteerMessage): Promise<void> {
    return this.control.steer(conn, conn.identity, msg.sessionId, msg.text, msg.turnId, msg.requestId);
  }

  @SubscribeMessage('answer_question')
  answer(@Conn() conn: AuthedConnection, @MessageBody() msg: AnswerQuestionMessage): Promise<void> {
    return this.control.answer(conn, conn.identity, msg);
  }
}
