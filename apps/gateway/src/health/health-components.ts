import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { HealthIndicatorFunction } from '@nestjs/terminus';
import type { AllConfig } from '../config';
import { DataDirIndicator } from './data-dir.indicator';
import { PodiumIndicator } from './podium.indicator';

/**
 * The components a probe checks. Modules that own a dependency (Podium, the writer) add their
 * indicator and their instance figures here.
 */
@Injectable()
export class HealthComponents {
  readonly devMode: boolean;
  private readonly extra: HealthIndicatorFunction[] = [];
  private readonly figureSources: (() => Record<string, unknown>)[] = [];

  constructor(
    private readonly dataDir: DataDirIndicator,
    private readonly podium: PodiumIndicator,
    config: ConfigService<AllConfig, true>,
  ) {
    this.devMode = config.get('app', { infer: true }).devMode;
  }

  add(check: HealthIndicatorFunction): void {
    this.extra.push(check);
  }

  addFigures(source: () => Record<string, unknown>): void {
    this.figureSources.push(source);
  }

  checks(): HealthIndicatorFunction[] {
    return [() => this.dataDir.check(), () => this.podium.check(), ...this.extra];
  }

  figures(): Record<string, unknown> {
    return Object.assign({}, ...this.figureSources.map((f) => f()));
  }
}
