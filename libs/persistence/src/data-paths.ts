import { join, resolve } from 'node:path';
import { isSafeId } from '@app/common';

/** The data layout: DATA_DIR/tenants/{tenantId}/registry.db and DATA_DIR/sessions/{sessionId}/session.db. */
export class DataPaths {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
  }

  get tenantsDir(): string {
    return join(this.root, 'tenants');
  }

  get sessionsDir(): string {
    return join(this.root, 'sessions');
  }

  tenantDir(tenantId: string): string {
    return join(this.tenantsDir, checked(tenantId));
  }

  registryFile(tenantId: string): string {
    return join(this.tenantDir(tenantId), 'registry.db');
  }

  sessionDir(sessionId: string): string {
    return join(this.sessionsDir, checked(sessionId));
  }

  sessionFile(sessionId: string): string {
    return join(this.sessionDir(sessionId), 'session.db');
  }
}

function checked(id: string): string {
  if (!isSafeId(id)) throw new Error('refusing an id that is not safe as a path segment');
  return id;
}
