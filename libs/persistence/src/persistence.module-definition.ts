import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { PersistenceConfig } from './persistence.config';

export const {
  ConfigurableModuleClass: PersistenceConfigurableModule,
  MODULE_OPTIONS_TOKEN: PERSISTENCE_OPTIONS,
} = new ConfigurableModuleBuilder<PersistenceConfig>().setClassMethodName('forRoot').build();
