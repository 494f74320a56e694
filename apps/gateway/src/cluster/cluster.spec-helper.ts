import Redis from 'ioredis';
import { deleteRedisKeys, TEST_REDIS_URL, uniqueName } from '../../../../test/support/services';
import type { ClusterConfig } from '../config/cluster.config';
import { ClusterBus } from './cluster-bus';
import { TenantLeases } from './tenant-leases';

export { eventually } from '../../../../test/support/admin-http';

export const SPEC_CLUSTER_SECRET = 'spec-cluster-secret-0123456789abcdef0123';
/** Short leases, so an instance whose process stops is seen gone within a couple of seconds. */
const TTL_MS = 1000;

/** One gateway instance's cluster parts, as its process holds them: the bus and the leases. */
export interface SpecInstance {
  config: ClusterConfig;
  bus: ClusterBus;
  leases: TenantLeases;
  /** Stops the instance as a killed process would: no more renewals, its Redis links closed. */
  stop(): Promise<void>;
}

/**
 * Several instances of one deployment inside the Jest process, on the machine's real Redis, under a
 * key prefix of their own (deleted by `close`).
 */
export class SpecCluster {
  readonly prefix = uniqueName('spec_cluster');
  private readonly made: SpecInstance[] = [];

  config(instanceId: string, secret = SPEC_CLUSTER_SECRET): ClusterConfig {
    return {
      leases: true,
      ownership: 'lease',
      redisUrl: TEST_REDIS_URL,
      keyPrefix: this.prefix,
      instanceId,
      leaseTtlMs: TTL_MS,
      renewMs: Math.floor(TTL_MS / 3),
      idleReleaseMs: 0,
      advertiseUrl: '',
      secret,
    };
  }

  /** A connected instance; its leases renew (and its presence shows) until `stop`. */
  async instance(instanceId: string, secret?: string): Promise<SpecInstance> {
    const config = this.config(instanceId, secret);
    const bus = new ClusterBus(config);
    await bus.connect();
    const leases = new TenantLeases(config, bus);
    leases.onModuleInit();
    let stopped = false;
    const instance: SpecInstance = {
      config,
      bus,
      leases,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        leases.onApplicationShutdown();
        await bus.onApplicationShutdown();
      },
    };
    this.made.push(instance);
    return instance;
  }

  /** Publishes `raw` on a member's inbox as anyone with access to the Redis could. */
  async publishRaw(member: string, raw: string): Promise<void> {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await redis.publish(`${this.prefix}:inst:${member}`, raw);
    } finally {
      await redis.quit();
    }
  }

  async close(): Promise<void> {
    for (const m of this.made) await m.stop();
    await deleteRedisKeys(this.prefix);
  }
}
