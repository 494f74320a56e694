import { Controller, Get, Logger, Res } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { PROTOCOL_VERSION } from '@app/protocol';
import { GATEWAY_VERSION } from '../version';
import { ConnectionRegistry } from '../connection/connection-registry';
import { LifecycleState } from '../connection/lifecycle.state';
import { HealthComponents, type HealthComponent } from './health-components';

import { healthReport, type HealthReport } from './health-report';

/**
 * Kubernetes and load-balancer probes. `/health/live` is cheap (health/liveness.ts, before the Nest
 * pipeline). `/health/ready` and `/health` answer 503 only when this instance cannot serve (draining,
 * DATA_DIR not writable, Redis down in lease mode); a dependency that only some requests need (Podium,
 * the shared credit ledger) being down leaves them at 200 with `status: "degraded"`, so one upstream
 * blip does not take every gateway out of its load balancer. `/health` adds the instance figures.
 */
@Controller('health')
export class HealthController {
  private readonly logger = new Logger('Health');

  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly components: HealthComponents,
    private readonly lifecycle: LifecycleState,
    private readonly connections: ConnectionRegistry,
  ) {}

  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response): Promise<HealthReport> {
    return this.answer(res, await this.report());
  }

  @Get()
  async deep(@Res({ passthrough: true }) res: Response) {
    const report = await this.report();
    return {
      ...this.answer(res, report),
      version: GATEWAY_VERSION,
      uptimeMs: Date.now() - this.lifecycle.startedAt,
      devMode: this.components.devMode,
      protocolVersion: PROTOCOL_VERSION,
      connections: this.connections.size,
      ...this.components.figures(),
    };
  }

  private answer(res: Response, report: HealthReport): HealthReport {
    if (report.status === 'error') res.status(503);
    return report;
  }

  private async report(): Promise<HealthReport> {
    const all: HealthComponent[] = [
      { key: 'lifecycle', critical: true, check: () => this.lifecycleCheck() },
      ...this.components.components(),
    ];
    const results = await Promise.all(all.map((c) => this.run(c)));
    return healthReport(all.map((c, i) => ({ key: c.key, critical: c.critical, result: results[i] })));
  }

  private async run(component: HealthComponent): Promise<HealthIndicatorResult[string]> {
    try {
      const result = await component.check();
      return result[component.key] ?? { status: 'down', code: 'CHECK_FAILED' };
    } catch (err) {
      this.logger.warn(`health check ${component.key} failed: ${(err as Error).message}`);
      return { status: 'down', code: 'CHECK_FAILED' };
    }
  }

  private lifecycleCheck() {
    const check = this.indicator.check('lifecycle');
    return this.lifecycle.draining ? check.down({ state: 'shutting_down' }) : check.up({ state: 'running' });
  }
}
