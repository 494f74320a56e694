import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { EventsModule } from '../events/events.module';
import { SessionsModule } from '../sessions/sessions.module';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { MetricsService } from './metrics.service';

@Module({
  imports: [SessionsModule, EventsModule, ConnectionModule],
  controllers: [MetricsController],
  providers: [MetricsService, MetricsListener],
})
export class MetricsModule {}
