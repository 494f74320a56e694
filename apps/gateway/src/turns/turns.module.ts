import { Module } from '@nestjs/common';
import { LiveModule } from '../live/live.module';
import { SessionsModule } from '../sessions/sessions.module';
import { TurnControl } from './turn-control.service';
import { TurnsGateway } from './turns.gateway';
import { TurnsService } from './turns.service';

@Module({
  imports: [SessionsModule, LiveModule],
  providers: [TurnsService, TurnControl, TurnsGateway],
})
export class TurnsModule {}
