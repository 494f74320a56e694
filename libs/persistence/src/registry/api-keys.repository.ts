import { existsSync } from 'node:fs';
import { Injectable } from '@nestjs/common';
import type { TenantId } from '@app/common';
import { ApiKeyRow } from './api-key.entity';
import { TenantRegistry } from './tenant-registry.service';

/** A tenant's API keys in its registry: only the SHA-256 of each secret is stored. */
@Injectable()
export class ApiKeysRepository {
  constructor(private readonly registry: TenantRegistry) {}

  async issue(tenantId: TenantId, row: ApiKeyRow): Promise<void> {
    await this.registry.write(tenantId, (ds) => ds.getRepository(ApiKeyRow).insert(row));
  }

  /** Oldest first, revoked keys included. */
  list(tenantId: TenantId): Promise<ApiKeyRow[]> {
    return this.registry.read(tenantId, (ds) =>
      ds.getRepository(ApiKeyRow).find({ order: { createdAt: 'ASC' } }),
    );
  }

  /**
   * The key with this hash, revoked or not, or null. A tenant that has no registry has no keys: it is
   * not created by looking.
   */
  async findByHash(tenantId: TenantId, keyHash: string): Promise<ApiKeyRow | null> {
    if (!existsSync(this.registry.paths.registryFile(tenantId))) return null;
    return this.registry.read(tenantId, (ds) => ds.getRepository(ApiKeyRow).findOneBy({ keyHash }));
  }

  /** Marks the key revoked (a revoked key keeps its first revocation time); false when there is no such key. */
  revoke(tenantId: TenantId, id: string, now = Date.now()): Promise<boolean> {
    return this.registry.write(tenantId, async (ds) => {
      const repo = ds.getRepository(ApiKeyRow);
      const row = await repo.findOneBy({ id });
      if (!row) return false;
      if (row.revokedAt === null) await repo.update({ id }, { revokedAt: now });
      return true;
    });
  }

  async recordUse(tenantId: TenantId, id: string, at: number): Promise<void> {
    await this.registry.write(tenantId, (ds) =>
      ds.getRepository(ApiKeyRow).update({ id }, { lastUsedAt: at }),
    );
  }
}
