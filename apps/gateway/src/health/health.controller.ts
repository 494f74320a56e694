import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, HealthIndicatorService, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import { PROTOCOL_VERSION } from '@app/protocol';
import { GATEWAY_VERSION } from '../version';
import { ConnectionRegistry } from '../connection/connection-registry';
import { LifecycleState } from '../lifecycle/lifecycle.state';
import { HealthComponents } from './health-components';

/**
 * Kubernetes and load-balancer probes. `/health/live` is cheap (health/liveness.ts, before the Nest
 * pipeline);
 * `/health/ready` is honest (not draining, DATA_DIR writable, dependencies reachable);
 * `/health` is the deep check with component status and instance figures (503 when a component is down).
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly components: HealthComponents,
    private readonly lifecycle: LifecycleState,
    private readonly connections: ConnectionRegistry,
  ) {}

  @Get('ready')
  async ready(@Res({ passthrough: true }) res: Response) {
    return this.run(res, [() => this.lifecycleCheck(), ...this.components.checks()]);
  }

  @Get()
  async deep(@Res({ passthrough: true }) res: Response) {
    const result = await this.run(res, [() => this.lifecycleCheck(), ...this.components.checks()]);
    return {
      ...result,
      version: GATEWAY_VERSION,
      uptimeMs: Date.now() - this.lifecycle.startedAt,
      devMode: this.components.devMode,
      protocolVersion: PROTOCOL_VERSION,
      connections: this.connections.size,
      ...this.components.figures(),
    };
  }

  private lifecycleCheck() {
    const check = this.indicator.check('lifecycle');
    return this.lifecycle.draining ? check.down({ state: 'shutting_down' }) : check.up({ state: 'running' });
  }

  private async run(
    res: Response,
    checks: Parameters<HealthCheckService['check']>[0],
  ): Promise<HealthCheckResult> {
    try {
      return await this.health.check(checks);
    } catch (err) {
      if (err instanceof ServiceUnavailableException) {
        res.status(503);
        return err.getResponse() as HealthCheckResult;
      }
      throw err;
    }
  }
}
