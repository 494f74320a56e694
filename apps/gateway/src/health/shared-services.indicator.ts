import { Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { FailedAuthLimiter } from '@app/auth';
import { CreditStore } from '@app/billing';
import { HealthComponents } from './health-components';

type Probe = () => Promise<{ ok: boolean; error?: string } | null>;

const PROBE_EVERY_MS = 5000;

/**
 * Redis (the shared authentication limiter) and PostgreSQL (the shared credit ledger) as health
 * components, when they are configured; probed in the background like Podium. With the embedded
 * defaults there is nothing to report and no component is added.
 */
@Injectable()
export class SharedServicesIndicator implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;
  private readonly last = new Map<string, { ok: boolean; error?: string }>();

  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly components: HealthComponents,
    @Optional() private readonly limiter?: FailedAuthLimiter,
    @Optional() private readonly credits?: CreditStore,
  ) {}

  async onModuleInit(): Promise<void> {
    const probes = new Map<string, Probe>();
    if (this.limiter?.kind === 'redis') probes.set('redis', () => this.limiter!.probe());
    const creditProbe = this.credits ? await this.credits.probe() : null;
    if (creditProbe) probes.set('billingDatabase', () => this.credits!.probe());
    if (probes.size === 0) return;
    const run = async () => {
      for (const [key, probe] of probes) this.last.set(key, (await probe()) ?? { ok: true });
    };
    await run();
    this.timer = setInterval(() => void run(), PROBE_EVERY_MS).unref();
    for (const key of probes.keys()) {
      this.components.add(() => {
        const result = this.last.get(key) ?? { ok: false, error: 'not probed yet' };
        const check = this.indicator.check(key);
        return result.ok ? check.up() : check.down({ error: result.error ?? 'unreachable' });
      });
    }
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
