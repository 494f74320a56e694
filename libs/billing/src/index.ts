export * from './billing.config';
export * from './billing.module';
export { BILLING_OPTIONS } from './billing.module-definition';
export * from './credit-store';
export * from './credits.service';
export * from './ledger-math';
export * from './postgres-credit-store';
export * from './pricing';
export * from './typeorm-credit-store';
