import type { AuthIdentity } from '@app/auth';
import type { Connection } from './connection';

/**
 * Decides where an authenticated client's messages are served: here (`local`), or on the instance
 * that owns the tenant (`forwarded`; lease mode). One instance alone, or TENANT_OWNERSHIP=local, always
 * serves locally.
 */
export abstract class TenantRouter {
  abstract route(conn: Connection, identity: AuthIdentity): Promise<'local' | 'forwarded'>;
  /** A validated frame of a forwarded connection, to its owner, exactly as the client sent it. */
  abstract forward(conn: Connection, frame: string): void;
  /** The client's socket closed. */
  abstract closed(conn: Connection): void;
}

export class LocalTenantRouter extends TenantRouter {
  route(): Promise<'local'> {
    return Promise.resolve('local');
  }

  forward(): void {
    throw new Error('no connection is forwarded without tenant leases');
  }

  closed(): void {}
}
