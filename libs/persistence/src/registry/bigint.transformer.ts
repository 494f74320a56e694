import type { ValueTransformer } from 'typeorm';

/**
 * `bigint` columns (money, unix-ms times) as JS numbers. SQLite hands back numbers already; PostgreSQL's
 * driver returns int8 as a string, so the same entities read the same values on both.
 */
export const bigintNumber: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null || value === undefined ? value : Number(value)),
};
