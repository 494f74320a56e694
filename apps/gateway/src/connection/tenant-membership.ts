import { Injectable } from '@nestjs/common';
import type { TenantId } from '@app/common';
import { TenantRegistry } from '@app/persistence';
import { Broadcaster, tenantTopic } from './broadcaster';
import type { Connection } from './connection';

/**
 * A connection's place in its tenant on this instance: the tenant topic it receives tenant-wide
 * events on, and the tenant's registry, which must exist while its clients are served here.
 */
@Injectable()
export class TenantMembership {
  constructor(
    private readonly broadcaster: Broadcaster,
    private readonly tenants: TenantRegistry,
  ) {}

  /** Joins the tenant topic; resolves once the tenant's registry is open (rejects when it cannot be). */
  join(conn: Connection, tenantId: TenantId): Promise<void> {
    this.broadcaster.subscribe(tenantTopic(tenantId), conn);
    return this.tenants.ensure(tenantId);
  }

  leave(conn: Connection, tenantId: TenantId): void {
    this.broadcaster.unsubscribe(tenantTopic(tenantId), conn);
  }
}
