import { Module } from '@nestjs/common';
import { RegistryCreditRepository } from '@app/persistence';
import { BILLING_OPTIONS, BillingConfigurableModule } from './billing.module-definition';
import type { BillingConfig } from './billing.config';
import { CreditStore } from './credit-store';
import { CreditsService } from './credits.service';
import { PostgresCreditStore } from './postgres-credit-store';
import { PriceTable } from './pricing';
import { TypeOrmCreditStore } from './typeorm-credit-store';

/**
 * The tenant registries unless BILLING_DATABASE_URL names a shared PostgreSQL database: connected at
 * start when it answers, else in the background (the gateway starts without it, turns answer
 * BILLING_UNAVAILABLE meanwhile).
 */
async function creditStore(config: BillingConfig, credits: RegistryCreditRepository): Promise<CreditStore> {
  if (!config.database) return new TypeOrmCreditStore(credits);
  return PostgresCreditStore.connectInBackground(config.database);
}

/**
 * Credits and pricing: `CreditsService` over a `CreditStore` and the `PriceTable`. Needs the
 * persistence module (RegistryCreditRepository).
 */
@Module({
  providers: [
    { provide: CreditStore, inject: [BILLING_OPTIONS, RegistryCreditRepository], useFactory: creditStore },
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
