/**
 * Short codes a health body gives for a component that is down. The upstream's own error text (host
 * names, ports, driver messages) goes to the log, never into a probe answer.
 */
export type HealthCode =
  | 'UNREACHABLE'
  | 'TIMEOUT'
  | 'UPSTREAM_5XX'
  | 'API_KEY_REJECTED'
  | 'CIRCUIT_OPEN'
  | 'NOT_WRITABLE'
  | 'NOT_PROBED'
  | 'CHECK_FAILED';

/** A probe failure of a shared service (Redis, PostgreSQL) as a short code. */
export function serviceFailureCode(error: string | undefined): HealthCode {
  return error === 'timeout' ? 'TIMEOUT' : 'UNREACHABLE';
}
