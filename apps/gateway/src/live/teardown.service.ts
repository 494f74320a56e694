import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { SessionId } from '@app/common';
import { SessionStore, TenantRegistry } from '@app/persistence';
import { PodiumClient } from '@app/podium';
import type { TurnErrorCode } from '@app/protocol';
import type { AllConfig, AppConfig } from '../config';
import type { ActiveSession } from './active-session';
import { EventPublisher } from './event-publisher';
import { LiveSessions } from './live-sessions';
import { SessionStates } from './session-states.service';
import { TurnFinisher } from './turn-finisher.service';

/**
 * Every way a live session ends, on one agent teardown (`stopAgent`): an agent failure (`fail`, the
 * session stays in `error`), a deactivation to `inactive` (idle, archive, delete, lease release,
 * shutdown), and the silent drop of a tenant whose lease moved elsewhere (`abandonTenant`).
 */
@Injectable()
export class Teardown {
  private readonly logger = new Logger(Teardown.name);
  private readonly cfg: AppConfig;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly live: LiveSessions,
    private readonly podium: PodiumClient,
    private readonly registry: TenantRegistry,
    private readonly store: SessionStore,
    private readonly publisher: EventPublisher,
    private readonly states: SessionStates,
    private readonly finisher: TurnFinisher,
  ) {
    this.cfg = config.get('app', { infer: true });
  }

  /**
   * The agent teardown: the session lets go of its event stream and instance; the stream is closed and
   * the instance stopped, best effort (a failure is logged). With `wait`, resolves once both are done.
   */
  async stopAgent(active: ActiveSession, wait: boolean): Promise<void> {
    const { connection, instanceId } = active.detachAgent();
    const stop = () =>
      instanceId
        ? this.podium
            .stopInstance(instanceId)
            .catch((err: Error) => this.logger.warn(`stopping instance ${instanceId} failed: ${err.message}`))
        : Promise.resolve();
    if (!wait) {
      void connection?.close().catch(() => undefined);
      void stop();
      return;
    }
    await connection?.close().catch(() => undefined);
    await stop();
  }

  /** An unrecoverable agent failure: the open turn ends in turn_error, the session goes to `error`. */
  fail(active: ActiveSession, code: TurnErrorCode, message: string): void {
    if (active.turn) this.finisher.finish(active, { kind: 'error', code, message }, 'error');
    else this.states.trySet(active, 'error', code);
    void this.stopAgent(active, false);
  }

  deactivateById(sessionId: string, reason: string): Promise<void> {
    const active = this.live.get(sessionId);
    return active ? this.deactivate(active, reason) : Promise.resolve();
  }

  /** Tears a session down to `inactive`; stopping the instance may fail (logged), the state still ends inactive. */
  deactivate(active: ActiveSession, reason: string): Promise<void> {
    return this.live.lock(active.sessionId, async () => {
      if (this.live.get(active.sessionId) !== active) return;
      if (active.state !== 'inactive') {
        if (active.turn) {
          this.finisher.finish(
            active,
            { kind: 'error', code: 'SESSION_DEACTIVATED', message: `Session ${reason}` },
            'deactivating',
          );
        }
        this.states.trySet(active, 'deactivating', reason);
        await this.stopAgent(active, true);
        this.states.trySet(active, 'inactive', reason);
      }
      await this.registry
        .updateSession(active.tenantId, active.sessionId, { instanceId: null, status: 'inactive' })
        .catch(() => undefined);
      await this.publisher.persistLastSeq(active).catch(() => undefined);
      this.live.remove(active);
    });
  }

  /** Deactivates every live session of a tenant here (its lease is being released). */
  async deactivateTenant(tenantId: string, reason: string): Promise<void> {
    await Promise.allSettled(this.live.ofTenant(tenantId).map((a) => this.deactivate(a, reason)));
  }

  /** Before a delete: tear down and close the session's database. */
  async forget(sessionId: SessionId): Promise<void> {
    await this.deactivateById(sessionId, 'deleted');
    await this.store.forget(sessionId);
  }

  /**
   * The tenant now belongs to another instance (lease lost): drop its live sessions here without
   * writing anything (the new owner recovers them), stop their agents best effort, discard queued writes
   * and close their databases.
   */
  async abandonTenant(tenantId: string): Promise<number> {
    const mine = this.live.ofTenant(tenantId);
    for (const active of mine) {
      this.live.remove(active);
      active.endTurn();
      await this.stopAgent(active, false);
      this.store.writer.discard(active.sessionId);
      await this.store.close(active.sessionId);
    }
    return mine.length;
  }

  /** Shutdown: every live agent stopped, best effort, within a third of the shutdown budget. */
  async stopAll(): Promise<void> {
    const all = this.live.all();
    if (all.length === 0) return;
    const budget = Math.floor(this.cfg.shutdownTimeoutMs / 3);
    await Promise.race([
      Promise.allSettled(all.map((a) => this.deactivate(a, 'shutdown'))),
      new Promise((r) => setTimeout(r, budget).unref()),
    ]);
  }
}
