import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { asTenantId, type SessionId, type TenantId } from '@app/common';
import type { SessionRow } from './entities';
import { MembersRepository } from './members.repository';
import { TenantRegistry } from './tenant-registry.service';

let dataDir: string;
let registry: TenantRegistry;

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'tenant-registry-'));
  registry = new TenantRegistry({
    dataDir,
    writeBatchMs: 50,
    writeBatchSize: 100,
    registryCache: 2,
    sessionCache: 2,
  });
});

afterAll(async () => {
  await registry.closeAll();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Every path under `dir`, relative to it. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function session(id: string, overrides: Partial<SessionRow> = {}): SessionRow {
  return {
    id,
    name: `Session ${id}`,
    agentType: 'coding-agent',
    status: 'inactive',
    archived: false,
    projectId: null,
    createdBy: 'auth0|u1',
    instanceId: null,
    sandboxStatus: null,
    lastSeq: 0,
    createdAt: 1_000,
    updatedAt: 1_000,
    lastActivityAt: null,
    ...overrides,
  };
}

describe('TenantRegistry sessions', () => {
  const t = asTenantId('acme');

  it('creates the registry at DATA_DIR/tenants/{tenantId}/registry.db', async () => {
    await registry.ensure(t);
    expect(existsSync(join(dataDir, 'tenants', 'acme', 'registry.db'))).toBe(true);
  });

  it('inserts and finds a session, with every field round-tripped', async () => {
    const row = session('s-1', { projectId: 'p1', lastSeq: 12, lastActivityAt: 1_500, archived: false });
    await registry.insertSession(t, row);
    const found = await registry.findSession(t, 's-1');
    expect(found).toEqual(row);
    expect(typeof found!.archived).toBe('boolean');
  });

  it('refuses a duplicate id', async () => {
    await expect(registry.insertSession(t, session('s-1'))).rejects.toThrow();
  });

  it('returns null for an unknown session', async () => {
    expect(await registry.findSession(t, 'no-such-session')).toBeNull();
  });

  it('lists sessions newest update first, hiding archived ones unless asked', async () => {
    await registry.insertSession(t, session('s-2', { updatedAt: 3_000 }));
    await registry.insertSession(t, session('s-3', { updatedAt: 2_000, archived: true }));
    expect((await registry.listSessions(t, false)).map((s) => s.id)).toEqual(['s-2', 's-1']);
    expect((await registry.listSessions(t, true)).map((s) => s.id)).toEqual(['s-2', 's-3', 's-1']);
  });

  it('updates only the patched fields', async () => {
    await registry.updateSession(t, 's-1' as SessionId, {
      name: 'Renamed',
      status: 'ready',
      updatedAt: 9_000,
    });
    const found = await registry.findSession(t, 's-1');
    expect(found).toMatchObject({
      name: 'Renamed',
      status: 'ready',
      updatedAt: 9_000,
      agentType: 'coding-agent',
      lastSeq: 12,
    });
    expect((await registry.listSessions(t, false))[0].id).toBe('s-1');
  });

  it('reports sessions whose status is not inactive', async () => {
    expect((await registry.staleSessions(t)).map((s) => s.id)).toEqual(['s-1']);
  });

  it('deletes a session', async () => {
    await registry.deleteSession(t, 's-2' as SessionId);
    expect(await registry.findSession(t, 's-2')).toBeNull();
    expect((await registry.listSessions(t, true)).map((s) => s.id)).toEqual(['s-1', 's-3']);
  });

  it('keeps tenants apart: a session of one tenant is not found through another', async () => {
    const other = asTenantId('globex');
    expect(await registry.findSession(other, 's-1')).toBeNull();
    expect(await registry.listSessions(other, true)).toEqual([]);
  });

  it.each([['../x'], ['../../etc/passwd'], ['a/b'], ['..'], [''], ['x'.repeat(129)], ['..%2Fx'], ['s 1']])(
    'finds nothing for the unsafe id %p and creates no file',
    async (id) => {
      const fresh = asTenantId(`fresh-${Buffer.from(id).toString('hex').slice(0, 40)}`);
      const before = tree(dataDir);
      expect(await registry.findSession(fresh, id)).toBeNull();
      expect(await registry.findSession(t, id)).toBeNull();
      expect(tree(dataDir)).toEqual(before);
      expect(existsSync(join(dataDir, 'tenants', fresh))).toBe(false);
      expect(existsSync(join(dataDir, 'x'))).toBe(false);
    },
  );
});

describe('TenantRegistry handles and tenants', () => {
  it('keeps at most registryCache handles open once idle', async () => {
    for (const id of ['h1', 'h2', 'h3', 'h4']) await registry.ensure(asTenantId(id));
    expect(registry.openHandles).toBeLessThanOrEqual(2);
    // A tenant whose handle was closed is still readable.
    await registry.insertSession(asTenantId('h1'), session('kept'));
    for (const id of ['h2', 'h3', 'h4']) await registry.ensure(asTenantId(id));
    expect((await registry.findSession(asTenantId('h1'), 'kept'))?.id).toBe('kept');
  });

  it('lists tenant directories and ignores names that are not ids', async () => {
    const tenants = join(dataDir, 'tenants');
    for (const name of ['bad.name', 'with space', '..hidden', 'ünicode'])
      mkdirSync(join(tenants, name), { recursive: true });
    writeFileSync(join(tenants, 'stray.txt'), 'x');
    const listed = await registry.listTenants();
    expect([...listed].sort()).toEqual(['acme', 'globex', 'h1', 'h2', 'h3', 'h4'].sort());
  });

  it('lists no tenants when the tenants directory does not exist yet', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tenant-registry-empty-'));
    const other = new TenantRegistry({
      dataDir: empty,
      writeBatchMs: 50,
      writeBatchSize: 100,
      registryCache: 2,
      sessionCache: 2,
    });
    try {
      expect(await other.listTenants()).toEqual([] as TenantId[]);
    } finally {
      await other.closeAll();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('with tenant leases: only the lease holder creates and migrates a registry', () => {
  const options = { writeBatchMs: 50, writeBatchSize: 100, registryCache: 2, sessionCache: 2 };
  const fence = (token: number) => ({
    tokenFor: () => token,
    sessionWriteToken: () => Promise.resolve(undefined),
  });

  it('a non-owner neither creates nor migrates a registry: it reads an empty one until the owner made it', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'tenant-registry-lease-'));
    const owner = new TenantRegistry({ dataDir: shared, ...options });
    const reader = new TenantRegistry({ dataDir: shared, ...options });
    owner.useFence(fence(3));
    reader.useFence(fence(0));
    const t = asTenantId('fresh');
    try {
      expect(await new MembersRepository(reader).find(t, 'u1')).toBeNull();
      expect(await reader.listSessions(t, true)).toEqual([]);
      expect(await reader.fenceToken(t)).toBe(0);
      expect(existsSync(owner.paths.registryFile(t))).toBe(false);
      await expect(reader.insertSession(t, session('s-reader'))).rejects.toThrow(/not created yet/);
      expect(existsSync(owner.paths.registryFile(t))).toBe(false);

      // A file that exists but is not migrated yet (its owner is still creating it) is left alone.
      mkdirSync(join(shared, 'tenants', 'fresh'), { recursive: true });
      writeFileSync(owner.paths.registryFile(t), '');
      expect(await new MembersRepository(reader).find(t, 'u1')).toBeNull();
      rmSync(owner.paths.registryFile(t));

      await owner.insertSession(t, session('s-owner'));
      expect((await reader.listSessions(t, true)).map((s) => s.id)).toEqual(['s-owner']);
      expect(await reader.fenceToken(t)).toBe(3);

      // A registry of an older release (its later migrations not run yet) is read as it is, not migrated.
      const old = asTenantId('older');
      await owner.insertSession(old, session('s-old', { status: 'active' }));
      await owner.write(old, (ds) =>
        ds.query(`DELETE FROM migrations WHERE name != 'RegistryInitial1764000000001'`),
      );
      await owner.closeTenant(old);
      expect((await reader.staleSessions(old)).map((s) => s.id)).toEqual(['s-old']);
      const names = await reader.read(old, (ds) => ds.query('SELECT name FROM migrations'));
      expect(names).toEqual([{ name: 'RegistryInitial1764000000001' }]);
    } finally {
      await owner.closeAll();
      await reader.closeAll();
      rmSync(shared, { recursive: true, force: true });
    }
  });
});
