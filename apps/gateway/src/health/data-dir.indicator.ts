import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { TenantRegistry } from '@app/persistence';

const RECHECK_MS = 5000;

/** DATA_DIR is writable: checked by writing a probe file, in the background, so probes stay cheap. */
@Injectable()
export class DataDirIndicator implements OnModuleInit, OnModuleDestroy {
  private ok = false;
  private error?: string;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly indicator: HealthIndicatorService,
    private readonly registry: TenantRegistry,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.probe();
    this.timer = setInterval(() => void this.probe(), RECHECK_MS).unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get writable(): boolean {
    return this.ok;
  }

  check(key = 'dataDir') {
    const check = this.indicator.check(key);
    return this.ok ? check.up() : check.down({ error: this.error ?? 'not writable' });
  }

  async probe(): Promise<boolean> {
    const root = this.registry.paths.root;
    const file = join(root, `.probe-${randomUUID()}`);
    try {
      await mkdir(root, { recursive: true });
      await writeFile(file, 'ok');
      await rm(file, { force: true });
      this.ok = true;
      this.error = undefined;
    } catch (err) {
      this.ok = false;
      this.error = (err as NodeJS.ErrnoException).code ?? 'not writable';
    }
    return this.ok;
  }
}
