import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AllConfig } from '../config';
import { SHARD_CONFIG, ShardMap } from './shard-map';

/** The shard map (SHARD_TENANTS), for the WebSocket authentication and the admin API guard. */
@Global()
@Module({
  providers: [
    {
      provide: SHARD_CONFIG,
      inject: [ConfigService],
      useFactory: (config: ConfigService<AllConfig, true>) => config.get('shard', { infer: true }),
    },
    ShardMap,
  ],
  exports: [ShardMap],
})
export class ShardModule {}
