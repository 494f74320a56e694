import type { TenantId } from '@app/common';
import type { TenantRegistry } from './tenant-registry.service';

/** A table an extension module owns in each tenant's `registry.db` (docs/extending.md). */
export interface ExtensionTableSpec {
  /** The table's name; prefixed by nothing, so choose one the core does not use. */
  name: string;
  /**
   * Idempotent DDL (`CREATE TABLE IF NOT EXISTS …`, `CREATE INDEX IF NOT EXISTS …`), run once per
   * tenant registry and process, on the tenant's write queue, before the first insert or query.
   */
  migrate: readonly string[];
}

/**
 * An extension's own table in the tenant registry: rows are inserted on the tenant's write queue
 * (serialised with the registry's other writes) and read with plain parameterised SQL, so an
 * extension needs neither a `DataSource` nor TypeORM entities of its own.
 */
export class ExtensionTable {
  private readonly migrated = new Map<TenantId, Promise<void>>();

  constructor(
    private readonly registry: TenantRegistry,
    readonly spec: ExtensionTableSpec,
  ) {
    if (!/^[a-z][a-z0-9_]{0,62}$/.test(spec.name)) throw new Error(`invalid table name "${spec.name}"`);
  }

  /** Inserts one row: `values` maps column names (the spec's columns) to values. */
  async insert(tenantId: TenantId, values: Record<string, string | number | null>): Promise<void> {
    await this.ensure(tenantId);
    const cols = Object.keys(values);
    for (const c of cols) if (!/^[a-z][a-z0-9_]{0,62}$/.test(c)) throw new Error(`invalid column "${c}"`);
    const sql = `INSERT INTO "${this.spec.name}" (${cols.map((c) => `"${c}"`).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`;
    await this.registry.write(tenantId, (ds) => ds.query(sql, Object.values(values)));
  }

  /** Runs a read query (`?` parameters) against the tenant's registry. */
  async query<T>(tenantId: TenantId, sql: string, params: unknown[] = []): Promise<T[]> {
    await this.ensure(tenantId);
    return this.registry.read(tenantId, (ds) => ds.query(sql, params) as Promise<T[]>);
  }

  private ensure(tenantId: TenantId): Promise<void> {
    let done = this.migrated.get(tenantId);
    if (!done) {
      done = this.registry.write(tenantId, async (ds) => {
        for (const ddl of this.spec.migrate) await ds.query(ddl);
      });
      done.catch(() => this.migrated.delete(tenantId));
      this.migrated.set(tenantId, done);
    }
    return done;
  }
}
