import { ConfigValidationError } from '@app/common';
import { TenantNotServedError } from '@app/protocol';
import { ShardMap } from './shard-map';
import { buildShardConfig } from '../config/shard.config';

const map = (env: NodeJS.ProcessEnv) => new ShardMap(buildShardConfig(env));

describe('shard map (SHARD_TENANTS)', () => {
  it('serves every tenant when unset, empty or *', () => {
    for (const env of [{}, { SHARD_TENANTS: '' }, { SHARD_TENANTS: 'acme,*' }]) {
      expect(map(env).serves('anyone')).toBe(true);
    }
  });

  it('serves exactly the listed tenants and the tenants under a listed prefix', () => {
    const shards = map({ SHARD_TENANTS: ' acme , team-* ,globex' });
    expect(shards.serves('acme')).toBe(true);
    expect(shards.serves('globex')).toBe(true);
    expect(shards.serves('team-red')).toBe(true);
    expect(shards.serves('acme2')).toBe(false);
    expect(shards.serves('team')).toBe(false);
    expect(shards.serves('initech')).toBe(false);
  });

  it('refuses a tenant of another shard with TENANT_NOT_SERVED', () => {
    const shards = map({ SHARD_TENANTS: 'acme' });
    expect(() => shards.admit('acme')).not.toThrow();
    expect(() => shards.admit('globex')).toThrow(TenantNotServedError);
  });

  it('rejects malformed entries, naming the variable', () => {
    for (const bad of ['acme,../x', 'a*b', 'acme;globex', 'x'.repeat(129)]) {
      expect(() => buildShardConfig({ SHARD_TENANTS: bad })).toThrow(/SHARD_TENANTS/);
    }
  });

  it('refuses a shard map in lease mode, where every instance serves every tenant', () => {
    expect(() => buildShardConfig({ SHARD_TENANTS: 'acme', REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(
      ConfigValidationError,
    );
    expect(() =>
      buildShardConfig({ SHARD_TENANTS: 'acme', TENANT_OWNERSHIP: 'lease', REDIS_URL: 'redis://r:6379' }),
    ).toThrow(/TENANT_OWNERSHIP=local/);
    expect(
      buildShardConfig({ SHARD_TENANTS: 'acme', TENANT_OWNERSHIP: 'local', REDIS_URL: 'redis://r:6379' })
        .restricted,
    ).toBe(true);
  });
});
