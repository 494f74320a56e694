import type { Provider } from '@nestjs/common';
import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The gateway's Prometheus registry, injected as prom-client's `Registry`: each collector
 * (`SessionMetrics`, `ClusterMetrics`, `ReportedMetrics`) registers its metrics in it and
 * `MetricsService` renders it. Node's default process metrics are collected from the start.
 */
export const METRICS_REGISTRY: Provider = {
  provide: Registry,
  useFactory: (): Registry => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: 'diminuendo_' });
    return registry;
  },
};
