import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { PodiumControlEnvelope } from '@app/podium';
import type { AllConfig } from '../config';
import type { ActiveSession } from './active-session';
import { Teardown } from './teardown.service';

/**
 * The stall timer of an open turn: re-armed at dispatch and on every agent frame; when the agent says
 * nothing for TURN_STALL_TIMEOUT_MS (and is not waiting for the user), the turn fails UPSTREAM_STALLED.
 */
@Injectable()
export class TurnWatchdog {
  private readonly logger = new Logger(TurnWatchdog.name);
  private readonly stallMs: number;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly teardown: Teardown,
  ) {
    this.stallMs = config.get('app', { infer: true }).sessions.turnStallTimeoutMs;
  }

  /**
   * Sends a control envelope to the session's agent and watches for its answer (the stall timer is
   * armed); when the agent cannot be reached, the session fails AGENT_UNAVAILABLE.
   */
  dispatch(active: ActiveSession, envelope: PodiumControlEnvelope, what: string): void {
    try {
      if (!active.podium) throw new Error('no agent stream');
      active.podium.send(envelope);
      this.arm(active);
    } catch (err) {
      this.logger.warn(`dispatching ${what} failed: ${(err as Error).message}`);
      this.teardown.fail(active, 'AGENT_UNAVAILABLE', 'The agent could not be reached');
    }
  }

  arm(active: ActiveSession): void {
    const turn = active.turn;
    if (!turn) return;
    if (turn.stallTimer) clearTimeout(turn.stallTimer);
    turn.stallTimer = setTimeout(() => {
      if (active.turn !== turn || active.state === 'waiting') return;
      this.logger.warn(`session ${active.sessionId}: agent stalled`);
      this.teardown.fail(active, 'UPSTREAM_STALLED', 'The agent stopped responding');
    }, this.stallMs);
    turn.stallTimer.unref();
  }
}
