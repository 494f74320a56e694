import { plusMinusJitter } from './podium.resilience';

describe('retry backoff', () => {
  const options = { initialDelay: 200, maxDelay: 5000, exponent: 2, generator: plusMinusJitter };

  /** The first `n` delays of one backoff sequence, as cockatiel's ExponentialBackoff draws them. */
  function delays(n: number): number[] {
    const out: number[] = [];
    let state: number | undefined;
    for (let i = 0; i < n; i++) {
      const [delay, next] = plusMinusJitter(state, options);
      out.push(delay);
      state = next;
    }
    return out;
  }

  it('doubles from the base with ±20 % jitter, capped at the maximum', () => {
    for (let run = 0; run < 200; run++) {
      const d = delays(7);
      for (let n = 0; n < 7; n++) {
        const nominal = 200 * 2 ** n;
        expect(d[n]).toBeGreaterThanOrEqual(Math.min(5000, nominal * 0.8));
        expect(d[n]).toBeLessThanOrEqual(Math.min(5000, nominal * 1.2));
      }
    }
  });

  it('is jittered: delays of separate sequences differ', () => {
    const firsts = new Set(Array.from({ length: 50 }, () => delays(1)[0]));
    expect(firsts.size).toBeGreaterThan(1);
  });
});
