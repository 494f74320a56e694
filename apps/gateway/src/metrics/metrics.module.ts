import { Module } from '@nestjs/common';
import { OwnershipModule } from '../cluster/ownership.module';
import { ConnectionModule } from '../connection/connection.module';
import { LiveModule } from '../live/live.module';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { MetricsService } from './metrics.service';

@Module({
  imports: [LiveModule, ConnectionModule, OwnershipModule],
  controllers: [MetricsController],
  providers: [MetricsService, MetricsListener],
})
export class MetricsModule {}
