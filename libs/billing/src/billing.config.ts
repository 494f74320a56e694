import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  ValidateIf,
} from 'class-validator';
import { ConfigValidationError, isDevMode, parseBool, validateEnv } from '@app/common';
import { DEFAULT_MODEL_PRICE, parsePrice, type ModelPrice } from './pricing';

/** The billing slice of the environment (docs/billing.md). Empty strings count as unset. */
export class BillingEnv {
  /** Reserve and charge credits around turns. Unset: off in dev mode, on in production. */
  @IsOptional()
  @Transform(parseBool)
  @IsBoolean()
  BILLING_ENABLED?: boolean;
  /** Held for each turn before Podium is contacted (micro-credits). */
  @IsInt()
  @Min(0)
  @Max(1_000_000_000_000)
  TURN_RESERVATION_CREDITS: number = 1_000_000;
  /** JSON `{ model: { input, output, cacheRead?, cacheWrite? } }`, micro-credits per token. */
  @IsString()
  BILLING_PRICES: string = '';
  /** JSON `{ input, output, cacheRead?, cacheWrite? }` for models missing from the table. */
  @IsString()
  BILLING_DEFAULT_PRICE: string = '';
  /**
   * PostgreSQL shared by every gateway instance (docs/scaling.md). Set: credit accounts, the ledger
   * and reservations live there instead of each tenant's registry.db. Unset: nothing is contacted.
   */
  @ValidateIf((o: BillingEnv) => o.BILLING_DATABASE_URL !== '')
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['postgres', 'postgresql'] })
  BILLING_DATABASE_URL: string = '';
  /** Schema of the credit tables in that database (created if missing). */
  @Matches(/^[a-z_][a-z0-9_]{0,62}$/, { message: 'BILLING_DATABASE_SCHEMA: a lower-case SQL identifier' })
  BILLING_DATABASE_SCHEMA: string = 'public';
  /** Connections in this instance's pool (one is briefly held by the migration lock at start). */
  @IsInt()
  @Min(2)
  @Max(100)
  BILLING_DATABASE_POOL_MAX: number = 10;
}

/** The shared credit database (BILLING_DATABASE_URL); the URL may carry a password: never log it whole. */
export interface SharedCreditDatabaseConfig {
  url: string;
  schema: string;
  poolMax: number;
}

export interface BillingConfig {
  enabled: boolean;
  /** Micro-credits reserved per turn. */
  reservationCredits: number;
  /** Configured prices (merged over the built-in table). */
  prices: Record<string, ModelPrice>;
  defaultPrice: ModelPrice;
  /** Where credits live when shared by several instances; null: each tenant's registry.db. */
  database: SharedCreditDatabaseConfig | null;
}

export function buildBillingConfig(env: NodeJS.ProcessEnv): BillingConfig {
  const v = validateEnv(BillingEnv, env);
  const problems: string[] = [];
  const prices: Record<string, ModelPrice> = {};
  const table = parseJson(v.BILLING_PRICES, 'BILLING_PRICES', problems);
  if (table !== undefined) {
    if (typeof table !== 'object' || table === null || Array.isArray(table)) {
      problems.push('BILLING_PRICES: must be a JSON object of model → price');
    } else {
      for (const [model, value] of Object.entries(table)) {
        if (!model.trim()) {
          problems.push('BILLING_PRICES: model names must not be empty');
          continue;
        }
        const parsed = parsePrice(value, `BILLING_PRICES["${model}"]`);
        problems.push(...parsed.problems);
        if (parsed.price) prices[model] = parsed.price;
      }
    }
  }
  let defaultPrice: ModelPrice = { ...DEFAULT_MODEL_PRICE };
  const fallback = parseJson(v.BILLING_DEFAULT_PRICE, 'BILLING_DEFAULT_PRICE', problems);
  if (fallback !== undefined) {
    const parsed = parsePrice(fallback, 'BILLING_DEFAULT_PRICE');
    problems.push(...parsed.problems);
    if (parsed.price) defaultPrice = parsed.price;
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return {
    enabled: v.BILLING_ENABLED ?? !isDevMode(env),
    reservationCredits: v.TURN_RESERVATION_CREDITS,
    prices,
    defaultPrice,
    database: v.BILLING_DATABASE_URL
      ? {
          url: v.BILLING_DATABASE_URL,
          schema: v.BILLING_DATABASE_SCHEMA,
          poolMax: v.BILLING_DATABASE_POOL_MAX,
        }
      : null,
  };
}

function parseJson(raw: string, name: string, problems: string[]): unknown {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    problems.push(`${name}: not valid JSON`);
    return undefined;
  }
}

export const billingConfig = registerAs('billing', () => buildBillingConfig(process.env));
