import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { isSafeId, type SessionId, type TenantId } from '@app/common';
import { DataPaths } from '../data-paths';
import { DataSourceRegistry, isMigrated, openSqlite } from '../datasource-registry';
import { installFence, readFenceToken, type WriteFence } from '../write-fence';
import { RegistryInitial1764000000001 } from '../migrations/registry-1-initial';
import { RegistryCreditsApiKeys1764000000002 } from '../migrations/registry-2-credits-api-keys';
import { PERSISTENCE_OPTIONS } from '../persistence.module-definition';
import type { PersistenceConfig } from '../persistence.config';
import { REGISTRY_ENTITIES, SessionRow } from './entities';

export const REGISTRY_MIGRATIONS = [RegistryInitial1764000000001, RegistryCreditsApiKeys1764000000002];
const REGISTRY_SCHEMA = { entities: REGISTRY_ENTITIES, migrations: REGISTRY_MIGRATIONS };
const MIGRATION_NAMES = REGISTRY_MIGRATIONS.map((M) => new M().name ?? M.name);

/** A session row as the registry returns it: its id vouched for by the tenant's registry. */
export type StoredSession = SessionRow & { id: SessionId };

/**
 * A registry a non-owner may not open yet: the file does not exist or its owner has not finished
 * creating it. Reads see an empty registry; writes fail.
 */
class RegistryNotReadyError extends Error {
  constructor(tenantId: string) {
    super(`the registry of tenant ${tenantId} is not created yet (its owner creates it)`);
  }
}

/**
 * Access to each tenant's `registry.db` and its sessions. Members, API keys and credits in the same file
 * go through their repositories (MembersRepository, ApiKeysRepository, RegistryCreditRepository).
 */
@Injectable()
export class TenantRegistry implements OnApplicationShutdown {
  private readonly logger = new Logger(TenantRegistry.name);
  readonly paths: DataPaths;
  private readonly handles: DataSourceRegistry;
  private fence?: WriteFence;
  private empty?: Promise<DataSource>;

  constructor(@Inject(PERSISTENCE_OPTIONS) config: PersistenceConfig) {
    this.paths = new DataPaths(config.dataDir);
    this.handles = new DataSourceRegistry(config.registryCache, (tenantId) => this.open(tenantId));
  }

  /**
   * Opens a registry. Only its owner creates and migrates it: without tenant leases that is this
   * instance; with them, the lease holder. A non-owner (token 0) opens an existing, created file and
   * never touches its schema, so instances that meet on a new tenant never migrate it twice.
   */
  private async open(tenantId: string): Promise<DataSource> {
    const file = this.paths.registryFile(tenantId);
    const token = this.fence?.tokenFor(tenantId) ?? 0;
    const owner = !this.fence || token > 0;
    if (!owner && !existsSync(file)) throw new RegistryNotReadyError(tenantId);
    const ds = await openSqlite(file, REGISTRY_SCHEMA, { existing: !owner });
    try {
      // Its first migration recorded, the file exists for good (perhaps from an older release, whose
      // schema its next owner brings up to date); none yet, its owner is still creating it.
      if (!owner && !(await isMigrated(ds, MIGRATION_NAMES.slice(0, 1)))) {
        throw new RegistryNotReadyError(tenantId);
      }
      if (this.fence) await installFence(ds, token, `tenant ${tenantId}`);
    } catch (err) {
      await ds.destroy().catch(() => undefined);
      throw err;
    }
    return ds;
  }

  /** What a non-owner reads from a registry its owner has not created yet: an empty one. */
  private emptyRegistry(): Promise<DataSource> {
    this.empty ??= openSqlite(':memory:', REGISTRY_SCHEMA);
    return this.empty;
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
    const file = this.paths.registryFile(tenantId);
    if (!existsSync(file)) return 0;
    // Read from the file itself, whatever its schema: opening it as a registry is the owner's job.
    const ds = await openSqlite(file, { entities: [], migrations: [] }, { existing: true });
    try {
      return await readFenceToken(ds);
    } finally {
      await ds.destroy().catch(() => undefined);
    }
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

  /**
   * Runs `fn` on the tenant's database (an empty registry while a non-owner waits for its owner to
   * create it). For this library's repositories: the rest of the gateway goes through them.
   */
  async read<T>(tenantId: TenantId, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    try {
      return await this.handles.use(tenantId, fn);
    } catch (err) {
      if (!(err instanceof RegistryNotReadyError)) throw err;
      return fn(await this.emptyRegistry());
    }
  }

  /** Runs `fn` on the tenant's database, serialised with its other writes (for this library's repositories). */
  write<T>(tenantId: TenantId, fn: (ds: DataSource) => Promise<T>): Promise<T> {
    return this.handles.write(tenantId, fn);
  }

  // ── sessions ──────────────────────────────────────────────────────────────

  listSessions(tenantId: TenantId, includeArchived: boolean): Promise<StoredSession[]> {
    return this.read(tenantId, (ds) =>
      ds.getRepository(SessionRow).find({
        where: includeArchived ? {} : { archived: false },
        order: { updatedAt: 'DESC' },
      }),
    ) as Promise<StoredSession[]>;
  }

  /**
   * The tenant's session with this id, or null. An id that is not a safe path segment is simply not
   * found: nothing touches the filesystem for it.
   */
  async findSession(tenantId: TenantId, sessionId: string): Promise<StoredSession | null> {
    if (!isSafeId(sessionId)) return null;
    const row = await this.read(tenantId, (ds) => ds.getRepository(SessionRow).findOneBy({ id: sessionId }));
    return row as StoredSession | null;
  }

  /**
   * Inserts a complete row. `updateEntity(false)`: every column is given, so TypeORM's re-select of the
   * columns that have defaults (a second query per insert on SQLite) would read back what was written.
   */
  async insertSession(tenantId: TenantId, row: SessionRow): Promise<void> {
    await this.write(tenantId, (ds) =>
      ds.createQueryBuilder().insert().into(SessionRow).values(row).updateEntity(false).execute(),
    );
  }

  async updateSession(tenantId: TenantId, sessionId: SessionId, patch: Partial<SessionRow>): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(SessionRow).update({ id: sessionId }, patch));
  }

  async deleteSession(tenantId: TenantId, sessionId: SessionId): Promise<void> {
    await this.write(tenantId, (ds) => ds.getRepository(SessionRow).delete({ id: sessionId }));
  }

  /** Sessions whose persisted status is not `inactive` (stale after a restart). */
  staleSessions(tenantId: TenantId): Promise<StoredSession[]> {
    return this.read(tenantId, (ds) =>
      ds
        .getRepository(SessionRow)
        .createQueryBuilder('s')
        .where('s.status != :s', { s: 'inactive' })
        .getMany(),
    ) as Promise<StoredSession[]>;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.closeAll();
  }

  async closeAll(): Promise<void> {
    await this.handles.closeAll();
    const empty = this.empty;
    this.empty = undefined;
    if (empty) await (await empty.catch(() => undefined))?.destroy().catch(() => undefined);
    this.logger.log('tenant registries closed');
  }
}
