import type { AuthConfig } from '@app/auth';
import type { BillingConfig } from '@app/billing';
import type { PersistenceConfig } from '@app/persistence';
import type { PodiumConfig } from '@app/podium';
import type { ClusterConfig } from './cluster.config';
import type { ShardConfig } from './shard.config';
import type { AppConfig } from './app.config';

export * from './app.config';

/** Every configuration namespace, for `ConfigService<AllConfig, true>`. */
export interface AllConfig {
  app: AppConfig;
  auth: AuthConfig;
  persistence: PersistenceConfig;
  podium: PodiumConfig;
  billing: BillingConfig;
  cluster: ClusterConfig;
  shard: ShardConfig;
}
