import { ConfigValidationError } from '@app/common';
import { buildClusterConfig } from './cluster.config';

describe('cluster configuration: CLUSTER_SECRET', () => {
  const lease = { REDIS_URL: 'redis://127.0.0.1:6379' };
  const secret = 'x'.repeat(32);

  const problem = (env: NodeJS.ProcessEnv): string => {
    try {
      buildClusterConfig(env);
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigValidationError);
      return (err as Error).message;
    }
    throw new Error('expected a configuration error');
  };

  it('is required in lease mode outside dev mode, by name', () => {
    expect(problem({ ...lease, NODE_ENV: 'production' })).toContain('CLUSTER_SECRET');
    expect(buildClusterConfig({ ...lease, NODE_ENV: 'production', CLUSTER_SECRET: secret }).secret).toBe(
      secret,
    );
  });

  it('must have at least 32 characters', () => {
    expect(problem({ ...lease, NODE_ENV: 'production', CLUSTER_SECRET: 'x'.repeat(31) })).toContain(
      'CLUSTER_SECRET: at least 32 characters',
    );
  });

  it('may be missing in dev mode and without leases', () => {
    expect(buildClusterConfig({ ...lease, NODE_ENV: 'development' }).secret).toBe('');
    expect(buildClusterConfig({ ...lease, NODE_ENV: 'production', TENANT_OWNERSHIP: 'local' }).leases).toBe(
      false,
    );
    expect(buildClusterConfig({ NODE_ENV: 'production' }).secret).toBe('');
  });
});
