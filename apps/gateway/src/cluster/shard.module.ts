import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TENANT_ADMISSION } from '@app/auth';
import type { AllConfig } from '../config';
import { SHARD_CONFIG, ShardMap } from './shard-map';

/**
 * The shard map (SHARD_TENANTS) as the auth lib's TENANT_ADMISSION: checked for every verified credential
 * (WebSocket `authenticate`, admin API), before the tenant's registry is opened.
 */
@Global()
@Module({
  providers: [
    {
      provide: SHARD_CONFIG,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AllConfig, true>) => config.get('shard', { infer: true }),
    },
    ShardMap,
    { provide: TENANT_ADMISSION, useExisting: ShardMap },
  ],
  exports: [ShardMap, TENANT_ADMISSION],
})
export class ShardModule {}
