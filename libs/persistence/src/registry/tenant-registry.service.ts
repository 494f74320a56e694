import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { isSafeId, type SessionId, type TenantId } from '@app/common';
import { DataPaths } from '../data-paths';
import { DataSourceRegistry, openSqlite } from '../datasource-registry';
import { installFence, readFenceToken, type WriteFence } from '../write-fence';
import { RegistryInitial1764000000001 } from '../migrations/registry-1-initial';
import { RegistryCreditsApiKeys1764000000002 } from '../migrations/registry-2-credits-api-keys';
import { PERSISTENCE_OPTIONS } from '../persistence.module-definition';
import type { PersistenceConfig } from '../persistence.config';
import { MemberRow, REGISTRY_ENTITIES, SessionRow } from './entities';

export const REGISTRY_MIGRATIONS = [RegistryInitial1764000000001, RegistryCreditsApiKeys1764000000002];

/** Access to each tenant's `registry.db`: sessions and members. */
@Injectable()
export class TenantRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(TenantRegistry.name);
  readonly paths: DataPaths;
  private readonly handles: DataSourceRegistry;
  private fence?: WriteFence;

  constructor(@Inject(PERSISTENCE_OPTIONS) config: PersistenceConfig) {
    this.paths = new DataPaths(config.dataDir);
    this.handles = new DataSourceRegistry(config.registryCache, async (tenantId) => {
      const ds = await openSqlite(this.paths.registryFile(tenantId), {
        entities: REGISTRY_ENTITIES,
        migrations: REGISTRY_MIGRATIONS,
      });
      if (this.fence) {
        try {
          await installFence(ds, this.fence.tokenFor(tenantId), `tenant ${tenantId}`);
        } catch (err) {
          await ds.destroy().catch(() => undefined);
          throw err;
        }
      }
      return ds;
    });
  }

  /**
   * Fences every registry opened from now on (tenant ownership leases, docs/scaling.md): writes succeed
   * only while this instance's lease token is the newest that claimed the file.
   */
  useFence(fence: WriteFence): void {
    this.fence = fence;
  }

  /**
   * The newest lease token that claimed the tenant's registry (0 when none, or no registry yet): a new
   * lease must be stamped above it even if Redis lost its counters.
   */
  async fenceToken(tenantId: TenantId): Promise<number> {
    if (!existsSync(this.paths.registryFile(tenantId))) return 0;
    return this.read(tenantId, (ds) => readFenceToken(ds));
  }

  /** Closes the tenant's handle (its lease changed hands: the next use reopens with the new token). */
  closeTenant(tenantId: TenantId): Promise<void> {
    return this.handles.close(tenantId);
  }

  get openHandles(): number {
    return this.handles.size;
  }

  /** Opens (creating if needed) the tenant's registry; used at authentication. */
  async ensure(tenantId: TenantId): Promise<void> {
    await this.handles.use(tenantId, async () => undefined);
  }

  /** Tenant ids that have a registry on disk. */
  async listTenants(): Promise<TenantId[]> {
    const names = await readdir(this.paths.tenantsDir).catch(() => [] as string[]);
    return names.filter(isSafeId) as TenantId[];
  }

  read<T>(tenantId: TenantId, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    return this.handles.use(tenantId, fn);
  }

  write<T>(tenantId: TenantId, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    return this.handles.write(tenantId, fn);
  }

  // ── sessions ──────────────────────────────────────────────────────────────

  listSessions(tenantId: TenantId, includeArchived: boolean): Promise<SessionRow[]> {
    return this.read(tenantId, (ds) =>
      ds.getRepository(SessionRow).find({
        where: includeArchived ? {} : { archived: false },
        order: { updatedAt: 'DESC' },
      }),
    );
  }

  /**
   * The tenant's session with this id, or null. An id that is not a safe path segment is simply not
   * found: nothing touches the filesystem for it.
   */
  async findSession(tenantId: TenantId, sessionId: string): Promise<(SessionRow & { id: SessionId }) | null> {
    if (!isSafeId(sessionId)) return null;
    const row = await this.read(tenantId, (ds) => ds.getRepository(SessionRow).findOneBy({ id: sessionId }));
    return row as (SessionRow & { id: SessionId }) | null;
  }

  async insertSession(tenantId: TenantId, row: SessionRow): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(SessionRow).insert(row));
  }

  async updateSession(tenantId: TenantId, sessionId: SessionId, patch: Partial<SessionRow>): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(SessionRow).update({ id: sessionId }, patch));
  }

  async deleteSession(tenantId: TenantId, sessionId: SessionId): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(SessionRow).delete({ id: sessionId }));
  }

  /** Sessions whose persisted status is not `inactive` (stale after a restart). */
  staleSessions(tenantId: TenantId): Promise<SessionRow[]> {
    return this.read(tenantId, (ds) =>
      ds
        .getRepository(SessionRow)
        .createQueryBuilder('s')
        .where('s.status != :s', { s: 'inactive' })
        .getMany(),
    );
  }

  // ── members ───────────────────────────────────────────────────────────────

  listMembers(tenantId: TenantId): Promise<MemberRow[]> {
    return this.read(tenantId, (ds) => ds.getRepository(MemberRow).find({ order: { createdAt: 'ASC' } }));
  }

  findMember(tenantId: TenantId, userId: string): Promise<MemberRow | null> {
    return this.read(tenantId, (ds) => ds.getRepository(MemberRow).findOneBy({ userId }));
  }

  async saveMember(tenantId: TenantId, row: MemberRow): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(MemberRow).save(row));
  }

  async deleteMember(tenantId: TenantId, userId: string): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(MemberRow).delete({ userId }));
  }

  countOwners(tenantId: TenantId): Promise<number> {
    return this.read(tenantId, (ds) => ds.getRepository(MemberRow).countBy({ role: 'owner' }));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.closeAll();
  }

  async closeAll(): Promise<void> {
    await this.handles.closeAll();
    this.logger.log('tenant registries closed');
  }
}
