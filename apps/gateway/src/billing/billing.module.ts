import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { BillingModule, type BillingConfig } from '@app/billing';
import { TurnBilling } from '../live/turn-billing';
import { CreditTurnBilling } from './credit-turn-billing';

/** Credits around turns: reserve, price, settle, release, and recovery after a restart. */
@Global()
@Module({
  imports: [
    BillingModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => config.getOrThrow<BillingConfig>('billing'),
    }),
  ],
  providers: [{ provide: TurnBilling, useClass: CreditTurnBilling }],
  exports: [TurnBilling, BillingModule],
})
export class GatewayBillingModule {}
