import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { ConnectionModule } from '../connection/connection.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { DataDirIndicator } from './data-dir.indicator';
import { HealthComponents } from './health-components';
import { HealthController } from './health.controller';
import { PodiumIndicator } from './podium.indicator';
import { SharedServicesIndicator } from './shared-services.indicator';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), ConnectionModule, LifecycleModule],
  controllers: [HealthController],
  providers: [DataDirIndicator, PodiumIndicator, HealthComponents, SharedServicesIndicator],
  exports: [HealthComponents, DataDirIndicator],
})
export class HealthModule {}
