import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import { CloseCode } from '@app/protocol';
import type { AllConfig, AppConfig } from '../config';
import { ConnectionRegistry } from '../connection/connection-registry';
import { LifecycleState } from './lifecycle.state';

/** Work that must finish between the drain and the closing of sockets (flush writes, close DBs). */
export type ShutdownStep = { name: string; run: () => Promise<void> };

/**
 * The graceful shutdown, in the seed's order, run from Nest's shutdown hooks:
 * refuse upgrades and report not-ready → `server_shutdown` to every client → wait for send buffers to
 * drain → registered steps (stop agents, flush the writer, close every database) → close remaining
 * sockets with 1001. The HTTP server then stops (Nest's dispose) and a guard exits 1 if all of this
 * outlives SHUTDOWN_TIMEOUT_MS.
 */
@Injectable()
export class LifecycleService implements BeforeApplicationShutdown {
  private readonly app: AppConfig;
  private readonly steps: ShutdownStep[] = [];
  private guard?: NodeJS.Timeout;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly state: LifecycleState,
    private readonly connections: ConnectionRegistry,
    private readonly logger: PinoLogger,
  ) {
    this.app = config.get('app', { infer: true });
    logger.setContext('Lifecycle');
  }

  /** Registers a step; steps run in registration order after the drain. */
  addShutdownStep(step: ShutdownStep): void {
    this.steps.push(step);
  }

  /** Starts the force-exit guard; called as soon as a signal arrives. */
  armGuard(): void {
    if (this.guard) return;
    this.guard = setTimeout(() => {
      this.logger.error(`graceful shutdown timed out after ${this.app.shutdownTimeoutMs}ms; forcing exit`);
      process.exit(1);
    }, this.app.shutdownTimeoutMs);
    this.guard.unref();
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.armGuard();
    this.state.draining = true;
    this.logger.info({ signal }, 'shutdown: draining');
    const frame = JSON.stringify({
      type: 'server_shutdown',
      reason: 'deployment',
      reconnectAfterMs: 1000,
      ts: Date.now(),
    });
    let notified = 0;
    for (const conn of this.connections.values()) if (conn.sendFrame(frame, false)) notified++;
    this.logger.info({ notified }, 'shutdown: server_shutdown sent');
    await new Promise((r) => setTimeout(r, this.app.shutdownDrainMs));
    for (const step of this.steps) {
      try {
        await step.run();
        this.logger.info(`shutdown: ${step.name} done`);
      } catch (err) {
        this.logger.error({ err }, `shutdown: ${step.name} failed`);
      }
    }
    for (const conn of this.connections.values()) conn.close(CloseCode.GOING_AWAY, 'server shutting down');
    this.logger.info('shutdown: sockets closed');
  }
}
