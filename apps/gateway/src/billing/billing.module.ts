import { Global, Module } from '@nestjs/common';
import { NoBilling, TurnBilling } from '../turns/turn-billing';

/** Credits around turns. */
@Global()
@Module({
  providers: [{ provide: TurnBilling, useClass: NoBilling }],
  exports: [TurnBilling],
})
export class BillingModule {}
