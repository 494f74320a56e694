import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { HealthModule } from '../health/health.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { LiveModule } from '../live/live.module';
import { ClusterLifecycle } from './cluster-lifecycle';
import { RemoteHost } from './remote-host.service';
import { TenantOwnership } from './tenant-ownership.service';

/**
 * Lease mode's work that needs connections and live sessions: what a lease means for this instance's
 * data, health and shutdown, and hosting clients of other instances (`RemoteHost`). Inert without leases.
 */
@Module({
  imports: [ConnectionModule, LiveModule, LifecycleModule, HealthModule],
  providers: [TenantOwnership, ClusterLifecycle, RemoteHost],
  exports: [RemoteHost],
})
export class OwnershipModule {}
