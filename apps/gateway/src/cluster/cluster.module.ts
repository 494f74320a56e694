import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AllConfig } from '../config';
import { ClusterBus } from './cluster-bus';
import type { ClusterConfig } from '../config/cluster.config';
import { CLUSTER_CONFIG } from './cluster.tokens';
import { Forwarder } from './forwarder.service';
import { TenantLeases } from './tenant-leases';
import { LocalTenantRouter, TenantRouter } from '../connection/tenant-router';

/**
 * Several instances as one system (docs/scaling.md): with TENANT_OWNERSHIP=lease (the default when
 * REDIS_URL is set) the bus connects at boot, leases decide which instance owns a tenant and the
 * router forwards clients there; otherwise everything here is inert and every client is served locally.
 */
@Global()
@Module({
  providers: [
    {
      provide: CLUSTER_CONFIG,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AllConfig, true>) => config.get('cluster', { infer: true }),
    },
    {
      provide: ClusterBus,
      inject: [CLUSTER_CONFIG],
      useFactory: async (config: ClusterConfig) => {
        const bus = new ClusterBus(config);
        await bus.connect();
        return bus;
      },
    },
    TenantLeases,
    Forwarder,
    {
      provide: TenantRouter,
      inject: [CLUSTER_CONFIG, Forwarder],
      useFactory: (config: ClusterConfig, forwarder: Forwarder) =>
        config.leases ? forwarder : new LocalTenantRouter(),
    },
  ],
  exports: [CLUSTER_CONFIG, ClusterBus, TenantLeases, Forwarder, TenantRouter],
})
export class ClusterModule {}
