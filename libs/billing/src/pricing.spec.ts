import { BUILT_IN_PRICES, costOf, DEFAULT_MODEL_PRICE, parsePrice, PriceTable, type Usage } from './pricing';

const usage = (u: Partial<Usage>): Usage => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  ...u,
});

describe('costOf', () => {
  it('sums tokens × price per kind', () => {
    const price = { input: 2, output: 10, cacheRead: 1, cacheWrite: 4 };
    expect(
      costOf(
        usage({ inputTokens: 100, outputTokens: 20, cacheReadTokens: 1000, cacheWriteTokens: 5 }),
        price,
      ),
    ).toBe(100 * 2 + 20 * 10 + 1000 + 5 * 4);
  });

  it('is exact with fractional prices and rounds up to a whole micro-credit', () => {
    const price = { input: 0.3, output: 0.1, cacheRead: 0.000001, cacheWrite: 0 };
    // 0.1 + 0.2 style float error must not leak: 10 × 0.3 = 3 exactly.
    expect(costOf(usage({ inputTokens: 10 }), price)).toBe(3);
    expect(costOf(usage({ outputTokens: 3 }), price)).toBe(1); // 0.3 → 1
    expect(costOf(usage({ cacheReadTokens: 1 }), price)).toBe(1); // 0.000001 → 1
    expect(costOf(usage({ cacheReadTokens: 1_000_000 }), price)).toBe(1);
    expect(costOf(usage({ cacheReadTokens: 1_000_001 }), price)).toBe(2);
  });

  it('costs nothing without tokens, and ignores negative or broken counts', () => {
    expect(costOf(usage({}), DEFAULT_MODEL_PRICE)).toBe(0);
    expect(costOf(usage({ inputTokens: -50, outputTokens: Number.NaN }), DEFAULT_MODEL_PRICE)).toBe(0);
  });

  it('handles large counts without losing precision', () => {
    expect(costOf(usage({ outputTokens: 2_000_000_000 }), { ...DEFAULT_MODEL_PRICE, output: 75 })).toBe(
      150_000_000_000,
    );
  });
});

describe('PriceTable', () => {
  it('prices the simulator models from the built-in table', () => {
    const table = new PriceTable();
    expect(table.priceOf('sim-echo-1')).toEqual(BUILT_IN_PRICES['sim-echo-1']);
    expect(table.priceOf('sim-coder-1')).toEqual(BUILT_IN_PRICES['sim-coder-1']);
    expect(table.cost(usage({ model: 'sim-echo-1', inputTokens: 10, outputTokens: 10 }))).toBe(
      10 * 3 + 10 * 15,
    );
  });

  it('falls back to the default price for an unknown or missing model', () => {
    const table = new PriceTable({}, { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 });
    expect(table.cost(usage({ model: 'gpt-unknown', inputTokens: 7 }))).toBe(7);
    expect(table.cost(usage({ inputTokens: 7 }))).toBe(7);
    expect(new PriceTable().priceOf('nope')).toEqual(DEFAULT_MODEL_PRICE);
  });

  it('lets configuration override and extend the built-ins', () => {
    const table = new PriceTable({
      'sim-echo-1': { input: 100, output: 100, cacheRead: 0, cacheWrite: 0 },
      'claude-x': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
    });
    expect(table.cost(usage({ model: 'sim-echo-1', inputTokens: 1 }))).toBe(100);
    expect(table.priceOf('claude-x').cacheRead).toBe(0.3);
    expect(table.priceOf('sim-coder-1')).toEqual(BUILT_IN_PRICES['sim-coder-1']);
    expect(Object.keys(table.models()).sort()).toEqual(['claude-x', 'sim-coder-1', 'sim-echo-1']);
  });
});

describe('parsePrice', () => {
  it('accepts a full price and defaults the cache prices to the input price', () => {
    expect(parsePrice({ input: 1, output: 2, cacheRead: 0.5, cacheWrite: 1.25 }, 'p')).toEqual({
      price: { input: 1, output: 2, cacheRead: 0.5, cacheWrite: 1.25 },
      problems: [],
    });
    expect(parsePrice({ input: 4, output: 8 }, 'p').price).toEqual({
      input: 4,
      output: 8,
      cacheRead: 4,
      cacheWrite: 4,
    });
  });

  it.each([
    [null, 'must be an object'],
    [[1, 2], 'must be an object'],
    [{ output: 1 }, 'p.input: required'],
    [{ input: -1, output: 1 }, 'p.input: must be a number'],
    [{ input: '1', output: 1 }, 'p.input: must be a number'],
    [{ input: 1, output: 1, extra: 2 }, 'unknown field "extra"'],
    [{ input: 0.0000001, output: 1 }, 'at most 6 decimals'],
  ])('refuses %p (%s)', (value, problem) => {
    const parsed = parsePrice(value, 'p');
    expect(parsed.price).toBeUndefined();
    expect(parsed.problems.join('\n')).toContain(problem);
  });
});
