import { backoffDelay, shutdownDelay, tokenExpiry } from './backoff';

describe('reconnect delays and token expiry', () => {
  it('full jitter: uniform in [0, min(cap, base·2^n)]', () => {
    const opts = { baseMs: 100, capMs: 1000 };
    expect(backoffDelay(0, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(400);
    expect(backoffDelay(20, opts, () => 0.999)).toBe(999);
    expect(backoffDelay(20, opts, () => 0)).toBe(0);
  });

  it('after server_shutdown: at least reconnectAfterMs, spread over as much again', () => {
    expect(shutdownDelay(1000, {}, () => 0)).toBe(1000);
    expect(shutdownDelay(1000, {}, () => 0.999)).toBe(1999);
    expect(shutdownDelay(60_000, { capMs: 5000 }, () => 1)).toBe(65_000);
  });

  it('reads a JWT exp (base64url), and nothing from an API key or garbage', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 1_900_000_000, sub: 'ü?>' })).toString('base64url');
    expect(tokenExpiry(`e30.${payload}.sig`)).toBe(1_900_000_000);
    expect(tokenExpiry('dim_t1_secret')).toBeUndefined();
    expect(tokenExpiry('a.%%%.c')).toBeUndefined();
  });
});
