import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import type { AllConfig } from '../config';
import { DataDirIndicator } from './data-dir.indicator';
import { PodiumIndicator } from './podium.indicator';

/**
 * One component a probe checks. `critical`: while it is down this instance cannot serve at all
 * (503, taken out of the load balancer); otherwise the instance is `degraded` but still serves what
 * does not need the component (200).
 */
export interface HealthComponent {
  key: string;
  critical: boolean;
  check: () => HealthIndicatorResult | Promise<HealthIndicatorResult>;
}

/**
 * The components a probe checks. Modules that own a dependency (Podium, the writer) add their
 * indicator and their instance figures here.
 */
@Injectable()
export class HealthComponents {
  readonly devMode: boolean;
  private readonly extra: HealthComponent[] = [];
  private readonly figureSources: (() => Record<string, unknown>)[] = [];

  constructor(
    private readonly dataDir: DataDirIndicator,
    private readonly podium: PodiumIndicator,
    config: ConfigService<AllConfig, true>,
  ) {
    this.devMode = config.get('app', { infer: true }).devMode;
  }

  add(component: HealthComponent): void {
    this.extra.push(component);
  }

  addFigures(source: () => Record<string, unknown>): void {
    this.figureSources.push(source);
  }

  /**
   * DATA_DIR is critical (nothing works without it); Podium is not: sessions, history and files of
   * the past stay readable while it is away, and turns answer AGENT_UNAVAILABLE.
   */
  components(): HealthComponent[] {
    return [
      { key: 'dataDir', critical: true, check: () => this.dataDir.check() },
      { key: 'podium', critical: false, check: () => this.podium.check() },
      ...this.extra,
    ];
  }

  figures(): Record<string, unknown> {
    return Object.assign({}, ...this.figureSources.map((f) => f()));
  }
}
