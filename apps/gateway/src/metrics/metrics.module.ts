import { Module } from '@nestjs/common';
import { OwnershipModule } from '../cluster/ownership.module';
import { ConnectionModule } from '../connection/connection.module';
import { LiveModule } from '../live/live.module';
import { ClusterMetrics } from './cluster-metrics';
import { MetricsController } from './metrics.controller';
import { MetricsListener } from './metrics-listener';
import { METRICS_REGISTRY } from './metrics-registry';
import { MetricsService } from './metrics.service';
import { ReportedMetrics } from './reported-metrics';
import { SessionMetrics } from './session-metrics';

@Module({
  imports: [LiveModule, ConnectionModule, OwnershipModule],
  controllers: [MetricsController],
  providers: [
    METRICS_REGISTRY,
    SessionMetrics,
    ClusterMetrics,
    ReportedMetrics,
    MetricsService,
    MetricsListener,
  ],
})
export class MetricsModule {}
