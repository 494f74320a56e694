import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import { asTenantId } from '@app/common';
import { ApiKeysRepository, TenantRegistry } from '@app/persistence';
import { ClusterBus } from '../../cluster/cluster-bus';
import { buildClusterConfig } from '../../config/cluster.config';
import { TenantLeases } from '../../cluster/tenant-leases';
import { ConnectionRegistry } from '../../connection/connection-registry';
import type { Connection } from '../../connection/connection';
import { hashSecret, parseApiKey } from './api-key';
import { ApiKeysService, LAST_USED_WRITE_INTERVAL_MS } from './api-keys.service';

let dataDir: string;
let registry: TenantRegistry;
let connections: ConnectionRegistry;
let keys: ApiKeysService;

const owner = (tenant = 'acme'): AuthIdentity => ({
  userId: 'auth0|owner',
  email: 'o@example.com',
  tenantId: asTenantId(tenant),
  role: 'owner',
  via: 'jwt',
});

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'api-keys-'));
  registry = new TenantRegistry({
    dataDir,
    writeBatchMs: 50,
    writeBatchSize: 100,
    registryCache: 4,
    sessionCache: 4,
  });
  connections = new ConnectionRegistry();
  const single = buildClusterConfig({}); // one instance: no leases
  keys = new ApiKeysService(
    new ApiKeysRepository(registry),
    connections,
    new TenantLeases(single, new ClusterBus(single)),
  );
});

afterAll(async () => {
  await registry.closeAll();
  rmSync(dataDir, { recursive: true, force: true });
});

async function until(cond: () => Promise<boolean>, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ApiKeysService on a real registry', () => {
  it('issues a key that verifies to apikey:<id> with the key’s role, storing only the hash', async () => {
    const created = await keys.create(owner(), 'member', ' CI ');
    expect(created).toMatchObject({ id: expect.any(String), role: 'member', label: 'CI' });
    expect(created.key).toMatch(/^dim_acme_[0-9a-f]{64}$/);
    const identity = await keys.verify(created.key);
    expect(identity).toEqual({
      userId: `apikey:${created.id}`,
      email: '',
      tenantId: 'acme',
      role: 'member',
      via: 'api_key',
    });
    const stored = await new ApiKeysRepository(registry).list(asTenantId('acme'));
    const secret = parseApiKey(created.key)!.secret;
    expect(JSON.stringify(stored)).not.toContain(secret);
    expect(stored[0].keyHash).toBe(hashSecret(secret));
  });

  it('lists keys without secrets or hashes, and records the last use at most once a minute', async () => {
    const created = await keys.create(owner(), 'viewer');
    const t0 = Date.now();
    await keys.verify(created.key);
    await until(async () =>
      (await keys.list(owner())).keys.some((k) => k.id === created.id && !!k.lastUsedAt),
    );
    const first = (await keys.list(owner())).keys.find((k) => k.id === created.id)!;
    expect(first.lastUsedAt).toBeGreaterThanOrEqual(t0);
    await keys.verify(created.key);
    await new Promise((r) => setTimeout(r, 50));
    const second = (await keys.list(owner())).keys.find((k) => k.id === created.id)!;
    expect(second.lastUsedAt).toBe(first.lastUsedAt);
    expect(LAST_USED_WRITE_INTERVAL_MS).toBeGreaterThanOrEqual(60_000);
    const listed = JSON.stringify(await keys.list(owner()));
    expect(listed).not.toMatch(/dim_|[0-9a-f]{64}|hash/i);
    for (const k of (await keys.list(owner())).keys)
      expect(Object.keys(k).sort()).toEqual(
        expect.arrayContaining(['createdAt', 'createdBy', 'id', 'role'].sort()),
      );
  });

  it('fails a revoked key, closes the sockets it authenticated, and keeps revocation idempotent', async () => {
    const created = await keys.create(owner(), 'admin');
    const closed: [number, string][] = [];
    const conn = {
      identity: { userId: `apikey:${created.id}`, tenantId: 'acme' },
      socket: {},
      close: (code: number, reason: string) => closed.push([code, reason]),
    } as unknown as Connection;
    connections.add(conn);
    await keys.revoke(owner(), created.id);
    expect(await keys.verify(created.key)).toBeNull();
    expect(closed).toEqual([[1008, 'credential revoked']]);
    await keys.revoke(owner(), created.id);
    const listed = (await keys.list(owner())).keys.find((k) => k.id === created.id)!;
    expect(listed.revokedAt).toEqual(expect.any(Number));
    connections.remove(conn);
  });

  it('answers API_KEY_NOT_FOUND for a key of another tenant or an unknown id', async () => {
    const created = await keys.create(owner(), 'member');
    await registry.ensure(asTenantId('globex'));
    await expect(keys.revoke(owner('globex'), created.id)).rejects.toMatchObject({
      code: 'API_KEY_NOT_FOUND',
    });
    await expect(keys.revoke(owner(), 'nope')).rejects.toMatchObject({ code: 'API_KEY_NOT_FOUND' });
    expect(await keys.verify(created.key)).not.toBeNull();
  });

  it('refuses a key presented under another tenant’s prefix', async () => {
    const created = await keys.create(owner(), 'member');
    const secret = parseApiKey(created.key)!.secret;
    expect(await keys.verify(`dim_globex_${secret}`)).toBeNull();
  });

  it('refuses a key naming a tenant without a registry, and creates nothing for it', async () => {
    expect(await keys.verify(`dim_ghost_${'a'.repeat(64)}`)).toBeNull();
    expect(existsSync(join(dataDir, 'tenants', 'ghost'))).toBe(false);
    expect(await keys.verify('dim_acme_short')).toBeNull();
    expect(await keys.verify(`dim_acme_${'b'.repeat(64)}`)).toBeNull();
  });

  it('refuses to issue a key with a role above the caller’s', async () => {
    const admin: AuthIdentity = { ...owner(), userId: 'auth0|admin', role: 'admin' };
    await expect(keys.create(admin, 'owner')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const member: AuthIdentity = { ...owner(), role: 'member' };
    await expect(keys.create(member, 'billing_admin')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(keys.create(member, 'viewer')).resolves.toMatchObject({ role: 'viewer' });
  });

  it('refuses an admin a billing_admin key (billing:write is not the admin’s) and stores nothing', async () => {
    const tenant = 'keys-escalation';
    const admin: AuthIdentity = { ...owner(tenant), userId: 'auth0|admin', role: 'admin' };
    await expect(keys.create(admin, 'billing_admin')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(keys.create(admin, 'admin')).resolves.toMatchObject({ role: 'admin' });
    await expect(keys.create(owner(tenant), 'billing_admin')).resolves.toMatchObject({
      role: 'billing_admin',
    });
    const { keys: listed } = await keys.list(owner(tenant));
    expect(listed.map((k) => k.role)).toEqual(['admin', 'billing_admin']);
  });
});
