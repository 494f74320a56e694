/** Test knobs (`POST /_sim/config`) and counters (`GET /_sim/stats`). */
import { isNonNegativeInt } from './config';

export interface SimKnobs {
  /** Delay before each paced frame (ms). Persistent. */
  tokenDelayMs: number;
  /** The next N instance creations answer 503. Counts down. */
  failCreate: number;
  /** Every instance creation waits this long before answering (ms). Persistent. */
  createDelayMs: number;
  /** Next turn: the event socket(s) are terminated abruptly once N frames of that turn were sent. One-shot. */
  dropStreamAfterFrames: number | null;
  /** Next turn: after N frames nothing more is sent; the socket stays open. One-shot. */
  stallAfterFrames: number | null;
  /** Next turn ends with an upstream `error {message, code:"upstream_error"}` instead of `usage` + `stream_end`. One-shot. */
  upstreamError: boolean;
  /** Next turn: right after `stream_start`, N `stream_update` frames (16 chars each) are sent without delay. One-shot. */
  burst: { frames: number } | null;
  /** How long a turn waits for a reconnect when no event socket is open (ms). Persistent. */
  reconnectGraceMs: number;
  /** File contents are sent chunked, without a Content-Length (as a streaming Podium may). Persistent. */
  chunkedFiles: boolean;
}

/** The one-shot knobs a turn takes when it starts. */
export type TurnKnobs = Pick<
  SimKnobs,
  'dropStreamAfterFrames' | 'stallAfterFrames' | 'upstreamError' | 'burst'
>;

export const NO_TURN_KNOBS: TurnKnobs = {
  dropStreamAfterFrames: null,
  stallAfterFrames: null,
  upstreamError: false,
  burst: null,
};

export function initialKnobs(tokenDelayMs: number, reconnectGraceMs: number): SimKnobs {
  return {
    tokenDelayMs,
    failCreate: 0,
    createDelayMs: 0,
    reconnectGraceMs,
    chunkedFiles: false,
    ...NO_TURN_KNOBS,
  };
}

/** Removes and returns the one-shot turn knobs. */
export function takeTurnKnobs(knobs: SimKnobs): TurnKnobs {
  const taken: TurnKnobs = {
    dropStreamAfterFrames: knobs.dropStreamAfterFrames,
    stallAfterFrames: knobs.stallAfterFrames,
    upstreamError: knobs.upstreamError,
    burst: knobs.burst,
  };
  Object.assign(knobs, NO_TURN_KNOBS);
  return taken;
}

const INT_KNOBS = ['tokenDelayMs', 'failCreate', 'createDelayMs', 'reconnectGraceMs'] as const;
const NULLABLE_INT_KNOBS = ['dropStreamAfterFrames', 'stallAfterFrames'] as const;

/** Validates a patch and applies it; returns an error message (nothing applied) or null. */
export function applyKnobPatch(knobs: SimKnobs, patch: unknown): string | null {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    return 'body must be a JSON object';
  const input = patch as Record<string, unknown>;
  const next: SimKnobs = { ...knobs };
  for (const [key, value] of Object.entries(input)) {
    if ((INT_KNOBS as readonly string[]).includes(key)) {
      if (!isNonNegativeInt(value)) return `${key} must be a non-negative integer`;
      next[key as (typeof INT_KNOBS)[number]] = value;
    } else if ((NULLABLE_INT_KNOBS as readonly string[]).includes(key)) {
      if (value !== null && !isNonNegativeInt(value)) return `${key} must be a non-negative integer or null`;
      next[key as (typeof NULLABLE_INT_KNOBS)[number]] = value;
    } else if (key === 'upstreamError' || key === 'chunkedFiles') {
      if (typeof value !== 'boolean') return `${key} must be a boolean`;
      next[key] = value;
    } else if (key === 'burst') {
      const frames = (value as { frames?: unknown } | null)?.frames;
      if (value !== null && !(isNonNegativeInt(frames) && frames > 0)) {
        return 'burst must be {frames: positive integer} or null';
      }
      next.burst = value === null ? null : { frames: frames as number };
    } else {
      return `unknown knob "${key}"`;
    }
  }
  Object.assign(knobs, next);
  return null;
}

export interface SimCounters {
  instancesCreated: number;
  instancesStopped: number;
  /** Turns accepted (a `process_message` that started a turn; busy rejections excluded). */
  turnsReceived: number;
  /** Inbound control envelopes by `type`. */
  messagesReceived: Record<string, number>;
  /** Frames sent to event sockets (turn frames, busy errors, sandbox.removed, /_sim emits). */
  framesSent: number;
  /** Event sockets accepted since the last reset. */
  connectionsOpened: number;
  /** The W3C `traceparent` header of the last API request that carried one (null: none yet). */
  lastTraceparent: string | null;
  /** The `traceparent` header of the last event-socket upgrade that carried one. */
  lastStreamTraceparent: string | null;
}

export function initialCounters(): SimCounters {
  return {
    instancesCreated: 0,
    instancesStopped: 0,
    turnsReceived: 0,
    messagesReceived: {},
    framesSent: 0,
    connectionsOpened: 0,
    lastTraceparent: null,
    lastStreamTraceparent: null,
  };
}
