import { Injectable, type OnModuleInit } from '@nestjs/common';
import { CloseCode } from '@app/protocol';
import { ConnectionRegistry } from '../connection/connection-registry';
import { RemoteHost } from './remote-host.service';
import { HealthComponents } from '../health/health-components';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { ClusterBus } from './cluster-bus';
import { Forwarder } from './forwarder.service';
import { TenantLeases } from './tenant-leases';

/** Lease mode's share of health (the cluster figures) and of shutdown (every lease released, last). */
@Injectable()
export class ClusterLifecycle implements OnModuleInit {
  constructor(
    private readonly leases: TenantLeases,
    private readonly bus: ClusterBus,
    private readonly forwarder: Forwarder,
    private readonly remotes: RemoteHost,
    private readonly connections: ConnectionRegistry,
    private readonly lifecycle: LifecycleService,
    private readonly health: HealthComponents,
  ) {}

  onModuleInit(): void {
    if (!this.leases.enabled) return;
    this.health.addFigures(() => ({
      cluster: {
        member: this.leases.member,
        ownedTenants: this.leases.heldTenants().length,
        /** Clients connected here whose tenant is owned by another instance. */
        forwardedClients: this.forwarder.count,
        /** Clients of other instances hosted here (they are also in `connections`). */
        hostedClients: this.remotes.count,
      },
    }));
    this.lifecycle.addShutdownStep({
      name: 'release tenant leases',
      run: async () => {
        // Hosted clients of other instances hear 1001 before this instance's presence disappears.
        for (const conn of [...this.connections.values()]) {
          if (conn.remote) conn.close(CloseCode.GOING_AWAY, 'server shutting down');
        }
        this.bus.flush();
        await this.leases.releaseAll();
      },
    });
  }
}
