import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';

/** Raised when an environment variable has a bad value; the message names the variable. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigValidationError';
  }
}

function describe(errors: ValidationError[]): string[] {
  return errors.flatMap((e) =>
    Object.values(e.constraints ?? {}).map((msg) => `${e.property}: ${msg} (got ${JSON.stringify(e.value)})`),
  );
}

/**
 * Validates one lib's slice of the environment into its class (implicit conversion of strings to
 * numbers/booleans). Empty strings count as unset so the class defaults apply.
 */
export function validateEnv<T extends object>(cls: new () => T, env: NodeJS.ProcessEnv): T {
  const raw: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') raw[key] = value;
  }
  const instance = plainToInstance(cls, raw, {
    enableImplicitConversion: true,
    excludeExtraneousValues: false,
  });
  const errors = validateSync(instance, { skipMissingProperties: false, whitelist: false });
  if (errors.length > 0) throw new ConfigValidationError(describe(errors));
  // plainToInstance copies every variable of the environment: keep only the declared ones.
  const declared = new cls() as Record<string, unknown>;
  const out = {} as Record<string, unknown>;
  for (const key of Object.keys(declared)) out[key] = (instance as Record<string, unknown>)[key];
  return out as T;
}

/** Booleans in env: true/false/1/0, case-insensitive; anything else is left as-is so validation fails. */
export function parseBool({
  value,
  obj,
  key,
}: {
  value: unknown;
  obj?: Record<string, unknown>;
  key?: string;
}): unknown {
  // Read the raw string: implicit conversion would already have turned any non-empty string into true.
  if (obj && key && key in obj) value = obj[key];
  if (typeof value === 'boolean') return value;
  const v = String(value).trim().toLowerCase();
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return value;
}

/**
 * Dev mode rule (spec README "Dev mode"): only when asked for, `DEV_MODE=true` or
 * `NODE_ENV=development`. An unset (or empty) NODE_ENV means production rules.
 */
export function isDevMode(env: NodeJS.ProcessEnv): boolean {
  const devFlag = parseBool({ value: env.DEV_MODE ?? 'false' });
  return devFlag === true || env.NODE_ENV === 'development';
}

export function csv(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  return String(value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
