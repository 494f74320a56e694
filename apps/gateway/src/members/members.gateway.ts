import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { ManageMembersMessage, type MemberListEvent } from '@app/protocol';
import { Conn, type AuthedConnection } from '../connection/connection-registry';
import { ProtocolGateway } from '../connection/ws-gateway.decorator';
import { MembersService } from './members.service';

/** `manage_members`: every action answers with the full member list. */
@ProtocolGateway()
export class MembersGateway {
  constructor(private readonly members: MembersService) {}

  @SubscribeMessage('manage_members')
  async manage(
    @Conn() conn: AuthedConnection,
    @MessageBody() msg: ManageMembersMessage,
  ): Promise<MemberListEvent> {
    const actor = conn.identity;
    switch (msg.action) {
      case 'add':
        await this.members.add(actor, msg.userId!, msg.role ?? 'member', msg.email);
        break;
      case 'update_role':
        await this.members.updateRole(actor, msg.userId!, msg.role!);
        break;
      case 'remove':
        await this.members.remove(actor, msg.userId!);
        break;
      case 'list':
        break;
    }
    return this.members.list(actor);
  }
}
