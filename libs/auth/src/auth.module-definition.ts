import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AuthConfig } from './auth.config';

export const { ConfigurableModuleClass: AuthConfigurableModule, MODULE_OPTIONS_TOKEN: AUTH_OPTIONS } =
  new ConfigurableModuleBuilder<AuthConfig>().setClassMethodName('forRoot').build();
