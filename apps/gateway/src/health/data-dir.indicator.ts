import { randomUUID } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { TenantRegistry } from '@app/persistence';

const RECHECK_MS = 5000;

/** DATA_DIR is writable: checked by writing a probe file, in the background, so probes stay cheap. */
@Injectable()
export class DataDirIndicator implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Health');
  /** Undefined until the first probe. */
  private ok?: boolean;
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
    return this.ok === true;
  }

  check(key = 'dataDir') {
    const check = this.indicator.check(key);
    return this.ok ? check.up() : check.down({ code: 'NOT_WRITABLE' });
  }

  async probe(): Promise<boolean> {
    const root = this.registry.paths.root;
    const file = join(root, `.probe-${randomUUID()}`);
    try {
      await mkdir(root, { recursive: true });
      await writeFile(file, 'ok');
      await rm(file, { force: true });
      if (this.ok === false) this.logger.log('DATA_DIR is writable again');
      this.ok = true;
    } catch (err) {
      if (this.ok !== false) {
        this.logger.error(
          `DATA_DIR is not writable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      this.ok = false;
    }
    return this.ok;
  }
}
