import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { SessionsModule } from '../sessions/sessions.module';
import { TurnsGateway } from './turns.gateway';
import { TurnsService } from './turns.service';

@Module({
  imports: [SessionsModule, EventsModule],
  providers: [TurnsService, TurnsGateway],
})
export class TurnsModule {}
