import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { ClusterBus } from '../cluster/cluster-bus';
import { REJECT_REASONS } from '../cluster/cluster-protocol';
import { Forwarder } from '../cluster/forwarder.service';
import { RemoteHost } from '../cluster/remote-host.service';
import { TenantLeases } from '../cluster/tenant-leases';

/**
 * Lease mode's figures, read at scrape time: tenants owned here, clients forwarded to other
 * instances, clients of other instances hosted here, and bus messages dropped unread. Nothing is
 * registered without leases.
 */
@Injectable()
export class ClusterMetrics {
  constructor(
    registry: Registry,
    leases: TenantLeases,
    forwarder: Forwarder,
    remotes: RemoteHost,
    bus: ClusterBus,
  ) {
    if (!leases.enabled) return;
    const registers = [registry];
    new Gauge({
      name: 'diminuendo_tenants_owned',
      help: 'Tenants whose lease this instance holds (lease mode)',
      registers,
      collect() {
        this.set(leases.heldTenants().length);
      },
    });
    new Gauge({
      name: 'diminuendo_forwarded_clients',
      help: 'Clients connected here whose tenant is owned by another instance (lease mode)',
      registers,
      collect() {
        this.set(forwarder.count);
      },
    });
    new Gauge({
      name: 'diminuendo_hosted_clients',
      help: 'Clients of other instances hosted here as owner (lease mode; also in ws_connections)',
      registers,
      collect() {
        this.set(remotes.count);
      },
    });
    new Counter({
      name: 'diminuendo_cluster_bus_rejected_total',
      help: 'Messages from other instances dropped unread (lease mode), by reason: unsigned, bad_signature, replayed, malformed',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const reason of REJECT_REASONS) this.inc({ reason }, bus.rejected[reason]);
      },
    });
  }
}
