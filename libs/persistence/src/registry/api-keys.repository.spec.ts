import { existsSync } from 'node:fs';
import { asTenantId } from '@app/common';
import type { ApiKeyRow } from './api-key.entity';
import { ApiKeysRepository } from './api-keys.repository';
import { useTempRegistry } from './temp-registry.spec-helper';

const temp = useTempRegistry('api-keys-repo-', (registry) => new ApiKeysRepository(registry));

function key(id: string, createdAt: number): ApiKeyRow {
  return {
    id,
    keyHash: `${id}`.padEnd(64, '0'),
    userId: 'auth0|owner',
    role: 'member',
    label: null,
    createdAt,
    lastUsedAt: null,
    revokedAt: null,
  };
}

describe('ApiKeysRepository: the key lifecycle', () => {
  const t = asTenantId('acme');

  it('issues keys, lists them oldest first and finds one by its hash', async () => {
    await temp.repo.issue(t, key('k2', 2_000));
    await temp.repo.issue(t, key('k1', 1_000));
    expect((await temp.repo.list(t)).map((k) => k.id)).toEqual(['k1', 'k2']);
    expect(await temp.repo.findByHash(t, key('k2', 0).keyHash)).toEqual(key('k2', 2_000));
    expect(await temp.repo.findByHash(t, 'f'.repeat(64))).toBeNull();
  });

  it('refuses a second key with the same hash', async () => {
    await expect(
      temp.repo.issue(t, { ...key('k3', 3_000), keyHash: key('k1', 0).keyHash }),
    ).rejects.toThrow();
    expect(await temp.repo.list(t)).toHaveLength(2);
  });

  it('records a use', async () => {
    await temp.repo.recordUse(t, 'k1', 4_000);
    expect((await temp.repo.findByHash(t, key('k1', 0).keyHash))?.lastUsedAt).toBe(4_000);
  });

  it('revokes once: a second revocation keeps the first time; an unknown key is false', async () => {
    expect(await temp.repo.revoke(t, 'k1', 5_000)).toBe(true);
    expect(await temp.repo.revoke(t, 'k1', 6_000)).toBe(true);
    expect(await temp.repo.revoke(t, 'missing', 6_000)).toBe(false);
    const found = await temp.repo.findByHash(t, key('k1', 0).keyHash);
    expect(found?.revokedAt).toBe(5_000);
    expect((await temp.repo.list(t)).map((k) => [k.id, k.revokedAt])).toEqual([
      ['k1', 5_000],
      ['k2', null],
    ]);
  });

  it('finds nothing for a tenant without a registry, and does not create one by looking', async () => {
    const none = asTenantId('no-such-tenant');
    expect(await temp.repo.findByHash(none, key('k1', 0).keyHash)).toBeNull();
    expect(existsSync(temp.registry.paths.registryFile(none))).toBe(false);
  });

  it('keeps keys per tenant', async () => {
    expect(await temp.repo.list(asTenantId('other'))).toEqual([]);
  });
});
