import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { PodiumClient, type PodiumProbeResult } from '@app/podium';

const PROBE_EVERY_MS = 5000;

/** Podium reachability, probed in the background (2 s budget per probe) so the endpoints stay cheap. */
@Injectable()
export class PodiumIndicator implements OnModuleInit, OnModuleDestroy {
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
    return result.ok ? c.up(data) : c.down({ ...data, error: result.error ?? 'unreachable' });
  }

  private async probe() {
    const result = await this.podium
      .probe()
      .catch((err: Error) => ({ ok: false, latencyMs: 0, error: err.message }));
    this.last = { ...result, checkedAt: Date.now() };
    return this.last;
  }
}
