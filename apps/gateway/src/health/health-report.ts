import type { HealthIndicatorResult } from '@nestjs/terminus';

/** `ok`: everything up; `degraded`: a non-critical dependency is down, the instance still serves; `error`: 503. */
export type HealthStatus = 'ok' | 'degraded' | 'error';

export interface HealthReport {
  status: HealthStatus;
  /** Components that are up / down, and all of them (Terminus' layout). */
  info: HealthIndicatorResult;
  error: HealthIndicatorResult;
  details: HealthIndicatorResult;
}

export interface ComponentResult {
  key: string;
  critical: boolean;
  result: HealthIndicatorResult[string];
}

/** The rule of every probe: a critical component down is `error` (503), any other down is `degraded`. */
export function healthReport(components: ComponentResult[]): HealthReport {
  const report: HealthReport = { status: 'ok', info: {}, error: {}, details: {} };
  for (const { key, critical, result } of components) {
    const up = result.status === 'up';
    report.details[key] = result;
    (up ? report.info : report.error)[key] = result;
    if (!up) report.status = critical || report.status === 'error' ? 'error' : 'degraded';
  }
  return report;
}
