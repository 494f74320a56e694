import { Controller, Get, Header, NotFoundException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AllConfig } from '../config';
import { MetricsService } from './metrics.service';

/**
 * Prometheus text exposition at /metrics (METRICS_ENABLED=false turns it off; with METRICS_PORT it is
 * served on that port instead, by MetricsListener).
 */
@Controller('metrics')
export class MetricsController {
  private readonly enabled: boolean;

  constructor(
    private readonly metrics: MetricsService,
    config: ConfigService<AllConfig, true>,
  ) {
    const app = config.get('app', { infer: true });
    this.enabled = app.metricsEnabled && app.metricsPort === undefined;
  }

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    if (!this.enabled) throw new NotFoundException();
    return this.metrics.render();
  }
}
