import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { LiveModule } from '../live/live.module';
import { SessionInteractionGateway } from './session-interaction.gateway';
import { SessionInteraction } from './session-interaction.service';
import { SessionViewers } from './session-viewers';
import { SessionsGateway } from './sessions.gateway';
import { SessionsService } from './sessions.service';

/** Session metadata (list, create, rename, archive, delete) and watching a session (join, leave, replay). */
@Module({
  imports: [ConnectionModule, LiveModule],
  providers: [
    SessionsService,
    SessionsGateway,
    SessionInteraction,
    SessionInteractionGateway,
    SessionViewers,
  ],
  exports: [SessionsService],
})
export class SessionsModule {}
