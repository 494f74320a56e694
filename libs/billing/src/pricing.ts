/**
 * Prices per model in micro-credits per token, and the cost of a turn's usage. Prices may have up to six
 * decimals; the cost is computed exactly (integer arithmetic) and rounded up to a whole micro-credit.
 */
export interface ModelPrice {
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
}

export interface Usage {
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** Prices of the Podium simulator's models (and a sensible shape for real ones). */
export const BUILT_IN_PRICES: Readonly<Record<string, ModelPrice>> = {
  'sim-echo-1': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'sim-coder-1': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
};

/** Charged for a model missing from the table (and for usage that names no model): the dearest built-in. */
export const DEFAULT_MODEL_PRICE: Readonly<ModelPrice> = {
  input: 15,
  output: 75,
  cacheRead: 1.5,
  cacheWrite: 18.75,
};

const SCALE = 1_000_000n;
export const PRICE_DECIMALS = 6;

/** A price as an integer number of millionths of a micro-credit. */
function scaled(price: number): bigint {
  return BigInt(Math.round(price * 1_000_000));
}

/** Σ tokens × price, rounded up to a whole micro-credit. */
export function costOf(usage: Usage, price: ModelPrice): number {
  const total =
    BigInt(tokens(usage.inputTokens)) * scaled(price.input) +
    BigInt(tokens(usage.outputTokens)) * scaled(price.output) +
    BigInt(tokens(usage.cacheReadTokens)) * scaled(price.cacheRead) +
    BigInt(tokens(usage.cacheWriteTokens)) * scaled(price.cacheWrite);
  const cost = (total + SCALE - 1n) / SCALE;
  if (cost > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('cost out of range');
  return Number(cost);
}

/** Token counts from upstream are trusted only as non-negative integers. */
function tokens(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}

/** The effective price table: built-ins, overridden and extended by configuration. */
export class PriceTable {
  private readonly prices: ReadonlyMap<string, ModelPrice>;

  constructor(
    overrides: Record<string, ModelPrice> = {},
    readonly fallback: ModelPrice = DEFAULT_MODEL_PRICE,
  ) {
    this.prices = new Map(Object.entries({ ...BUILT_IN_PRICES, ...overrides }));
  }

  priceOf(model: string | undefined): ModelPrice {
    return (model !== undefined && this.prices.get(model)) || this.fallback;
  }

  cost(usage: Usage): number {
    return costOf(usage, this.priceOf(usage.model));
  }

  models(): Record<string, ModelPrice> {
    return Object.fromEntries(this.prices);
  }
}

/**
 * Validates one price object from configuration. `input` and `output` are required; a missing
 * `cacheRead`/`cacheWrite` costs the input price. Returns problems (empty when valid).
 */
export function parsePrice(value: unknown, where: string): { price?: ModelPrice; problems: string[] } {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { problems: [`${where}: must be an object {input, output, cacheRead?, cacheWrite?}`] };
  const v = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of Object.keys(v)) {
    if (!['input', 'output', 'cacheRead', 'cacheWrite'].includes(key))
      problems.push(`${where}: unknown field "${key}"`);
  }
  const num = (key: string, required: boolean): number | undefined => {
    const x = v[key];
    if (x === undefined) {
      if (required) problems.push(`${where}.${key}: required`);
      return undefined;
    }
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || x > 1e9) {
      problems.push(`${where}.${key}: must be a number between 0 and 1e9 (micro-credits per token)`);
      return undefined;
    }
    if (Math.abs(Math.round(x * 1e6) - x * 1e6) > 1e-3)
      problems.push(`${where}.${key}: at most ${PRICE_DECIMALS} decimals`);
    return x;
  };
  const input = num('input', true);
  const output = num('output', true);
  const cacheRead = num('cacheRead', false);
  const cacheWrite = num('cacheWrite', false);
  if (problems.length > 0 || input === undefined || output === undefined) return { problems };
  return {
    price: { input, output, cacheRead: cacheRead ?? input, cacheWrite: cacheWrite ?? input },
    problems,
  };
}
