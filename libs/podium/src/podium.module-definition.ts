import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PodiumConfig } from './podium.config';

/** `PodiumModule.forRoot(config)` / `PodiumModule.forRootAsync({ useFactory, inject })`; `isGlobal` optional. */
export const {
  ConfigurableModuleClass: PodiumConfigurableModule,
  MODULE_OPTIONS_TOKEN: PODIUM_OPTIONS,
  OPTIONS_TYPE: PODIUM_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: PODIUM_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PodiumConfig>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
