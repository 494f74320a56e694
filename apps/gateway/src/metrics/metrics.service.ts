import { Injectable } from '@nestjs/common';
import { Registry } from 'prom-client';

/**
 * Prometheus metrics (prom-client), rendered for a scrape: connections, sessions by state, events
 * published and persisted, writer queue depth and flush latency, Podium call latency and errors, auth
 * failures, rate-limit hits, errors by code, the cluster's figures in lease mode, plus Node's default
 * process metrics. The metrics themselves belong to their collectors: `SessionMetrics` (read at
 * scrape time), `ClusterMetrics` (lease mode) and `ReportedMetrics` (counted from in-process events).
 */
@Injectable()
export class MetricsService {
  constructor(private readonly registry: Registry) {}

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
