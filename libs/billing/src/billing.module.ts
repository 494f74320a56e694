import { Module } from '@nestjs/common';
import { BILLING_OPTIONS, BillingConfigurableModule } from './billing.module-definition';
import type { BillingConfig } from './billing.config';
import { CreditStore } from './credit-store';
import { CreditsService } from './credits.service';
import { PriceTable } from './pricing';
import { TypeOrmCreditStore } from './typeorm-credit-store';

/**
 * Credits and pricing: `CreditsService` over a `CreditStore` (the tenant registries for now) and the
 * `PriceTable`. Needs the persistence module (TenantRegistry).
 */
@Module({
  providers: [
    { provide: CreditStore, useClass: TypeOrmCreditStore },
    {
      provide: PriceTable,
      inject: [BILLING_OPTIONS],
      useFactory: (config: BillingConfig) => new PriceTable(config.prices, config.defaultPrice),
    },
    CreditsService,
  ],
  exports: [CreditStore, PriceTable, CreditsService, BILLING_OPTIONS],
})
export class BillingModule extends BillingConfigurableModule {}
