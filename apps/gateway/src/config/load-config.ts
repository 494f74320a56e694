import { buildAuthConfig } from '@app/auth';
import { buildBillingConfig } from '@app/billing';
import { ConfigValidationError } from '@app/common';
import { persistenceConfig } from '@app/persistence';
import { podiumConfig } from '@app/podium';
import { buildClusterConfig } from './cluster.config';
import { buildShardConfig } from './shard.config';
import { buildConsoleConfig } from '../console/console.config';
import { buildAppConfig } from './app.config';

/**
 * Validates every namespace once before Nest starts, so a bad value stops the process with a message
 * naming the variable (the same factories run again inside ConfigModule).
 */
export function assertValidConfig(env: NodeJS.ProcessEnv): string[] {
  const problems: string[] = [];
  for (const build of [
    () => buildAppConfig(env),
    () => buildAuthConfig(env),
    () => persistenceConfig(),
    () => podiumConfig(),
    () => buildBillingConfig(env),
    () => buildClusterConfig(env),
    () => buildShardConfig(env),
    () => buildConsoleConfig(env),
  ]) {
    try {
      build();
    } catch (err) {
      if (err instanceof ConfigValidationError) problems.push(...err.problems);
      else throw err;
    }
  }
  return problems;
}
