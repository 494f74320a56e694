import { Module } from '@nestjs/common';
import { EventsModule } from '../events/events.module';
import { SessionsModule } from '../sessions/sessions.module';
import { MetricsController } from './metrics.controller';
import { MetricsService } from './metrics.service';

@Module({
  imports: [SessionsModule, EventsModule],
  controllers: [MetricsController],
  providers: [MetricsService],
})
export class MetricsModule {}
