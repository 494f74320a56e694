import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { PodiumClient, type PodiumProbeResult } from '@app/podium';
import type { HealthCode } from './health-code';

const PROBE_EVERY_MS = 5000;

const CODES: Record<NonNullable<PodiumProbeResult['kind']>, HealthCode> = {
  network: 'UNREACHABLE',
  timeout: 'TIMEOUT',
  http: 'UPSTREAM_5XX',
  circuit_open: 'CIRCUIT_OPEN',
  unauthorized: 'API_KEY_REJECTED',
};

/**
 * Podium reachability, probed in the background (2 s budget per probe) so the endpoints stay cheap.
 * A failure shows as a short code; its details are logged when Podium goes down.
 */
@Injectable()
export class PodiumIndicator implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Health');
  private last: (PodiumProbeResult & { checkedAt: number }) | undefined;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly podium: PodiumClient,
  ) {}

  onModuleInit(): void {
    void this.probe();
    this.timer = setInterval(() => void this.probe(), PROBE_EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async check(key = 'podium') {
    const result = this.last ?? (await this.probe());
    const c = this.indicator.check(key);
    const data = { latencyMs: Math.round(result.latencyMs), checkedAt: result.checkedAt };
    return result.ok ? c.up(data) : c.down({ ...data, code: CODES[result.kind ?? 'network'] });
  }

  private async probe() {
    const result = await this.podium
      .probe()
      .catch((err: Error): PodiumProbeResult => ({ ok: false, latencyMs: 0, error: err.message }));
    const wasUp = this.last?.ok ?? true;
    if (wasUp && !result.ok) this.logger.warn(`podium is down: ${result.error ?? 'unreachable'}`);
    if (!wasUp && result.ok) this.logger.log('podium is reachable again');
    this.last = { ...result, checkedAt: Date.now() };
    return this.last;
  }
}
