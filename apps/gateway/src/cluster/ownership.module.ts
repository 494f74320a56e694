import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { HealthModule } from '../health/health.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { LiveModule } from '../live/live.module';
import { ClusterLifecycle } from './cluster-lifecycle';
import { TenantOwnership } from './tenant-ownership.service';

/** What tenant leases mean for this instance's data, health and shutdown (inert without leases). */
@Module({
  imports: [ConnectionModule, LiveModule, LifecycleModule, HealthModule],
  providers: [TenantOwnership, ClusterLifecycle],
})
export class OwnershipModule {}
