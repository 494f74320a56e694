import { Module } from '@nestjs/common';
import { PodiumClient } from './podium.client';
import { PodiumConfigurableModule } from './podium.module-definition';

/**
 * Provides `PodiumClient`. Typical wiring:
 * `PodiumModule.forRootAsync({ inject: [ConfigService], useFactory: (c) => c.getOrThrow('podium', { infer: true }) })`.
 */
@Module({
  providers: [PodiumClient],
  exports: [PodiumClient],
})
export class PodiumModule extends PodiumConfigurableModule {}
