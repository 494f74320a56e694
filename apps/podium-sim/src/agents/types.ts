import type { Turn } from '../turn';

/** A scripted agent, chosen by the `{agentType}` part of a deployment id. */
export interface Agent {
  readonly type: string;
  /** Reported in the turn's `usage` frame. */
  readonly model: string;
  /**
   * Scripts the middle of a turn. `stream_start` is already sent; the turn sends `usage` + `stream_end`
   * (with every streamed text) after this resolves, and handles interrupts, steering and knobs.
   */
  run(turn: Turn): Promise<void>;
}
