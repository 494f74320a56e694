import { ConfigValidationError } from '@app/common';
import { buildBillingConfig } from './billing.config';
import { DEFAULT_MODEL_PRICE } from './pricing';

function problems(env: NodeJS.ProcessEnv): string {
  try {
    buildBillingConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return (err as Error).message;
  }
  throw new Error('expected buildBillingConfig to throw');
}

describe('buildBillingConfig', () => {
  it('is off in dev mode and on in production unless BILLING_ENABLED says otherwise', () => {
    expect(buildBillingConfig({}).enabled).toBe(true); // unset NODE_ENV: production rules
    expect(buildBillingConfig({ NODE_ENV: 'development' }).enabled).toBe(false);
    expect(buildBillingConfig({ NODE_ENV: 'production' }).enabled).toBe(true);
    expect(buildBillingConfig({ NODE_ENV: 'production', DEV_MODE: 'true' }).enabled).toBe(false);
    expect(buildBillingConfig({ BILLING_ENABLED: 'true' }).enabled).toBe(true);
    expect(buildBillingConfig({ NODE_ENV: 'production', BILLING_ENABLED: 'false' }).enabled).toBe(false);
    expect(buildBillingConfig({ NODE_ENV: 'production', BILLING_ENABLED: '' }).enabled).toBe(true);
  });

  it('defaults the reservation to 1,000,000 micro-credits and the prices to the built-ins', () => {
    const c = buildBillingConfig({});
    expect(c.reservationCredits).toBe(1_000_000);
    expect(c.prices).toEqual({});
    expect(c.defaultPrice).toEqual(DEFAULT_MODEL_PRICE);
    expect(buildBillingConfig({ TURN_RESERVATION_CREDITS: '2500' }).reservationCredits).toBe(2500);
  });

  it('keeps credits in the tenant registries unless BILLING_DATABASE_URL is set', () => {
    expect(buildBillingConfig({}).database).toBeNull();
    expect(buildBillingConfig({ BILLING_DATABASE_URL: '' }).database).toBeNull();
    expect(
      buildBillingConfig({ BILLING_DATABASE_URL: 'postgres://gw:pw@pg.internal:5432/billing' }).database,
    ).toEqual({ url: 'postgres://gw:pw@pg.internal:5432/billing', schema: 'public', poolMax: 10 });
    expect(
      buildBillingConfig({
        BILLING_DATABASE_URL: 'postgresql://pg/billing',
        BILLING_DATABASE_SCHEMA: 'credits_eu',
        BILLING_DATABASE_POOL_MAX: '4',
      }).database,
    ).toEqual({ url: 'postgresql://pg/billing', schema: 'credits_eu', poolMax: 4 });
  });

  it('reads BILLING_PRICES and BILLING_DEFAULT_PRICE as JSON', () => {
    const c = buildBillingConfig({
      BILLING_PRICES: JSON.stringify({
        'sim-echo-1': { input: 1, output: 2 },
        m2: { input: 0.5, output: 1.5, cacheRead: 0.05, cacheWrite: 0.6 },
      }),
      BILLING_DEFAULT_PRICE: '{"input": 9, "output": 9, "cacheRead": 9, "cacheWrite": 9}',
    });
    expect(c.prices['sim-echo-1']).toEqual({ input: 1, output: 2, cacheRead: 1, cacheWrite: 1 });
    expect(c.prices.m2).toEqual({ input: 0.5, output: 1.5, cacheRead: 0.05, cacheWrite: 0.6 });
    expect(c.defaultPrice).toEqual({ input: 9, output: 9, cacheRead: 9, cacheWrite: 9 });
  });

  it.each([
    [{ BILLING_ENABLED: 'maybe' }, 'BILLING_ENABLED'],
    [{ TURN_RESERVATION_CREDITS: '-1' }, 'TURN_RESERVATION_CREDITS'],
    [{ TURN_RESERVATION_CREDITS: '1.5' }, 'TURN_RESERVATION_CREDITS'],
    [{ BILLING_PRICES: '{not json' }, 'BILLING_PRICES: not valid JSON'],
    [{ BILLING_PRICES: '[1]' }, 'BILLING_PRICES: must be a JSON object'],
    [{ BILLING_PRICES: '{"m": {"input": -1, "output": 1}}' }, 'BILLING_PRICES["m"].input'],
    [{ BILLING_DEFAULT_PRICE: '{"input": 1}' }, 'BILLING_DEFAULT_PRICE.output: required'],
    [{ BILLING_DATABASE_URL: 'mysql://db/billing' }, 'BILLING_DATABASE_URL'],
    [{ BILLING_DATABASE_SCHEMA: 'Bad-Schema' }, 'BILLING_DATABASE_SCHEMA'],
    [{ BILLING_DATABASE_POOL_MAX: '1' }, 'BILLING_DATABASE_POOL_MAX'],
  ])('refuses %p naming %s', (env, name) => {
    expect(problems(env)).toContain(name);
  });
});
