import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { BillingConfig } from './billing.config';

/** `BillingModule.forRoot(config)` / `BillingModule.forRootAsync({ useFactory, inject })`; `isGlobal` optional. */
export const { ConfigurableModuleClass: BillingConfigurableModule, MODULE_OPTIONS_TOKEN: BILLING_OPTIONS } =
  new ConfigurableModuleBuilder<BillingConfig>()
    .setClassMethodName('forRoot')
    .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
    .build();
