import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PinoLogger } from 'nestjs-pino';
import { CloseCode } from '@app/protocol';
import type { AllConfig, AppConfig } from '../config';
import { ConnectionRegistry } from '../connection/connection-registry';
import { LifecycleState } from '../connection/lifecycle.state';

/**
 * The work between the drain and the closing of sockets, in the order it runs: agents stopped (their
 * final events still written), then the writer flushed and every database closed, then (lease mode)
 * the tenant leases released, once nothing of theirs is written any more.
 */
export const SHUTDOWN_ORDER = [
  'stop agents',
  'flush writer and close databases',
  'release tenant leases',
] as const;

export type ShutdownStepName = (typeof SHUTDOWN_ORDER)[number];
export type ShutdownStep = { name: ShutdownStepName; run: () => Promise<void> };

/**
 * The graceful shutdown, in the seed's order, run from Nest's shutdown hooks:
 * refuse upgrades and report not-ready → `server_shutdown` to every client → wait for send buffers to
 * drain → the registered steps in `SHUTDOWN_ORDER` (whenever they were registered) → close remaining
 * sockets with 1001. The HTTP server then stops (Nest's dispose) and a guard exits 1 if all of this
 * outlives SHUTDOWN_TIMEOUT_MS.
 */
@Injectable()
export class LifecycleService implements BeforeApplicationShutdown {
  private readonly app: AppConfig;
  private readonly steps = new Map<ShutdownStepName, ShutdownStep>();
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

  /** Registers a step (one per name); steps run in `SHUTDOWN_ORDER`, not in registration order. */
  addShutdownStep(step: ShutdownStep): void {
    if (this.steps.has(step.name)) throw new Error(`shutdown step registered twice: ${step.name}`);
    this.steps.set(step.name, step);
  }

  /** The registered steps, in the order they run. */
  get shutdownSteps(): ShutdownStep[] {
    return SHUTDOWN_ORDER.flatMap((name) => this.steps.get(name) ?? []);
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
    for (const step of this.shutdownSteps) {
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
