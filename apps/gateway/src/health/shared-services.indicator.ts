import { Injectable, Logger, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthIndicatorService } from '@nestjs/terminus';
import { FailedAuthLimiter } from '@app/auth';
import { CreditStore } from '@app/billing';
import type { AllConfig } from '../config';
import { serviceFailureCode } from './health-code';
import { HealthComponents } from './health-components';

type Probe = () => Promise<{ ok: boolean; error?: string } | null>;

const PROBE_EVERY_MS = 5000;

/**
 * Redis (the shared authentication limiter, and tenant leases in lease mode) and PostgreSQL (the
 * shared credit ledger) as health components, when they are configured; probed in the background like
 * Podium. Redis is critical only in lease mode (no lease, no tenant can be served); a ledger that is
 * down only stops turns, so it leaves the instance `degraded`. With the embedded defaults there is
 * nothing to report and no component is added.
 */
@Injectable()
export class SharedServicesIndicator implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Health');
  private timer?: NodeJS.Timeout;
  private readonly last = new Map<string, { ok: boolean; error?: string }>();
  private readonly leases: boolean;

  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly components: HealthComponents,
    config: ConfigService<AllConfig, true>,
    @Optional() private readonly limiter?: FailedAuthLimiter,
    @Optional() private readonly credits?: CreditStore,
  ) {
    this.leases = config.get('cluster', { infer: true }).leases;
  }

  async onModuleInit(): Promise<void> {
    const probes = new Map<string, { probe: Probe; critical: boolean }>();
    if (this.limiter?.kind === 'redis') {
      probes.set('redis', { probe: () => this.limiter!.probe(), critical: this.leases });
    }
    const creditProbe = this.credits ? await this.credits.probe() : null;
    if (creditProbe) probes.set('billingDatabase', { probe: () => this.credits!.probe(), critical: false });
    if (probes.size === 0) return;
    const run = async () => {
      for (const [key, { probe }] of probes) this.record(key, (await probe()) ?? { ok: true });
    };
    await run();
    this.timer = setInterval(() => void run(), PROBE_EVERY_MS).unref();
    for (const [key, { critical }] of probes) {
      this.components.add({
        key,
        critical,
        check: () => {
          const result = this.last.get(key);
          const check = this.indicator.check(key);
          if (!result) return check.down({ code: 'NOT_PROBED' });
          return result.ok ? check.up() : check.down({ code: serviceFailureCode(result.error) });
        },
      });
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Keeps the latest result; the upstream's own words go to the log when the service goes down. */
  private record(key: string, result: { ok: boolean; error?: string }): void {
    const wasUp = this.last.get(key)?.ok ?? true;
    if (wasUp && !result.ok) this.logger.warn(`${key} is down: ${result.error ?? 'unreachable'}`);
    if (!wasUp && result.ok) this.logger.log(`${key} is reachable again`);
    this.last.set(key, result);
  }
}
