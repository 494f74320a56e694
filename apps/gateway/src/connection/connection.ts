import type { WebSocket } from 'ws';
import type { Logger as PinoLogger } from 'pino';
import type { AuthIdentity } from '@app/auth';
import { SlidingWindow } from '@app/auth';
import { CloseCode, type ErrorCode, type ServerEvent } from '@app/protocol';
import { ReplyQueue } from './reply-queue';
import { PendingFrames, turnOutbox, type Coalescing, type RunSlot } from './turn-outbox';

export interface SendLimits {
  /** Above this many buffered bytes, ephemeral frames are skipped for this socket. */
  skipBytes: number;
  /** Above this, the socket is closed with 1013 (slow consumer). */
  closeBytes: number;
  /** A socket above `skipBytes` for this long is closed with 1013 too (it stopped reading). */
  stallMs: number;
}

/** Where a connection reports what it sent (the gateway's typed events satisfy it). */
export interface ConnectionEvents {
  emit(name: 'connection.error_sent', payload: { code: ErrorCode }): void;
}

/** Adds `requestId` to an already-serialised JSON object frame. */
export function withRequestId(frame: string, requestId: string | undefined): string {
  return requestId === undefined ? frame : `${frame.slice(0, -1)},"requestId":${JSON.stringify(requestId)}}`;
}

/**
 * A response a handler has already serialised (e.g. replayed events, stored as the exact frames that
 * were broadcast, spliced into an `events` answer without parsing them again).
 */
export class SerializedEvent {
  constructor(readonly frame: string) {}
}

interface HeldFrame {
  frame: string;
  ephemeral: boolean;
  seq: number;
}

/** The live frames of one session held back during a join, and their bound. */
interface Hold {
  frames: HeldFrame[];
  bytes: number;
  maxBytes: number;
}

/** Per-socket state: identity, joined sessions, rate window, and the one typed `send()`. */
export class Connection implements Coalescing {
  identity?: AuthIdentity;
  /**
   * The user and tenant this socket speaks for, fixed by its first successful verification (set before
   * the identity is bound, so a concurrent second `authenticate` cannot claim another one).
   */
  principal?: { userId: string; tenantId: string };
  readonly joined = new Set<string>();
  readonly rate: SlidingWindow;
  authDeadline?: NodeJS.Timeout;
  /** Closes the socket when its JWT expires; replaced by each re-authentication (at most one). */
  expiryTimer?: NodeJS.Timeout;
  /** WebSocket-level keepalive: pongs missed in a row. */
  missedPongs = 0;
  skippedFrames = 0;
  /** Armed when the send buffer goes above the skip threshold. */
  private stallTimer?: NodeJS.Timeout;
  /** When the send buffer was first seen above the skip threshold (reported when the socket is cut). */
  private congestedSince?: number;
  private closing = false;
  /** Session frames held back while a join builds its snapshot and replay (see `hold`). */
  private readonly holds = new Map<string, Hold>();
  /** Set when the tenant is owned by another instance: messages are forwarded there (lease mode). */
  forward?: { owner: string };
  /** Set for a client of another instance hosted here: frames go back over the cluster bus. */
  private readonly relay?: { relayFrame(frame: string, ephemeral: boolean): void };
  /** Answers to this connection's frames, in the order the frames arrived. */
  readonly replies = new ReplyQueue((frame) => this.sendFrame(frame, false));
  /** Protocol v2: this turn's frames, sent as one frame at the turn's end (turn-outbox.ts). */
  private readonly pending?: PendingFrames;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly ip: string,
    readonly protocolVersion: number,
    public log: PinoLogger,
    rate: { max: number; windowMs: number },
    private readonly limits: SendLimits,
    /** Told of every `error` sent (metrics by code). */
    private readonly events?: ConnectionEvents,
  ) {
    this.rate = new SlidingWindow(rate.max, rate.windowMs);
    const relay = socket as unknown as Partial<NonNullable<Connection['relay']>>;
    if (typeof relay.relayFrame === 'function') this.relay = relay as NonNullable<Connection['relay']>;
    // A relayed client's frames are coalesced by its own instance, on the real socket.
    else if (protocolVersion >= 2) this.pending = new PendingFrames();
  }

  /** Frames to this connection are coalesced per event-loop turn (protocol v2). */
  get coalesces(): boolean {
    return this.pending !== undefined;
  }

  /** A client connected to another instance, hosted here because this instance owns its tenant. */
  get remote(): boolean {
    return this.relay !== undefined;
  }

  get tenantId(): string | undefined {
    return this.identity?.tenantId;
  }

  get isOpen(): boolean {
    return this.socket.readyState === 1 && !this.closing;
  }

  /**
   * Sends one server event, echoing `requestId` when the event answers a request. Sent while a frame
   * of this connection is being served, it is part of that frame's answer and leaves in frame order.
   */
  send(event: ServerEvent | SerializedEvent, requestId?: string): void {
    const frame =
      event instanceof SerializedEvent
        ? withRequestId(event.frame, requestId)
        : JSON.stringify(requestId === undefined ? event : { ...event, requestId });
    const reply = ReplyQueue.current(this.replies);
    if (reply) this.replies.send(reply, frame);
    else this.sendFrame(frame, false);
  }

  sendError(
    code: ErrorCode,
    message: string,
    requestId?: string,
    hints: { retryAfterMs?: number } = {},
  ): void {
    this.events?.emit('connection.error_sent', { code });
    this.send({ type: 'error', code, message, ...hints }, requestId);
  }

  /**
   * Sends an already-serialised frame, applying the slow-consumer policy: ephemeral frames are skipped
   * above `skipBytes` buffered; above `closeBytes`, or above `skipBytes` for longer than `stallMs`, the
   * socket is closed with 1013. Durable frames are never skipped.
   * Answers false when the frame was not sent. On a v2 connection the frame is queued for the end of
   * the turn; `slot` says where a broadcast frame sits in its topic's run (shared batches).
   */
  sendFrame(frame: string, ephemeral: boolean, slot?: RunSlot): boolean {
    if (!this.isOpen) return false;
    if (this.relay) {
      // The client's own instance applies this policy to the real socket.
      this.relay.relayFrame(frame, ephemeral);
      return true;
    }
    const buffered = this.socket.bufferedAmount + (this.pending?.length ?? 0);
    if (buffered > this.limits.skipBytes) {
      if (buffered > this.limits.closeBytes) {
        this.cutSlowConsumer(buffered);
        return false;
      }
      this.congestedSince ??= Date.now();
      // Still congested when the stall timer fires (even if nothing else is sent): cut.
      this.stallTimer ??= setTimeout(() => {
        this.stallTimer = undefined;
        if (this.socket.bufferedAmount > this.limits.skipBytes)
          this.cutSlowConsumer(this.socket.bufferedAmount);
      }, this.limits.stallMs).unref();
      if (ephemeral) {
        this.skippedFrames++;
        return false;
      }
    } else if (this.congestedSince !== undefined && this.stallTimer === undefined) {
      this.congestedSince = undefined;
    }
    if (this.pending) {
      this.pending.add(frame, slot);
      turnOutbox.schedule(this);
    } else {
      this.socket.send(frame);
    }
    return true;
  }

  /** Sends this turn's queued frames: one frame, or one batch (protocol v2). */
  flushPending(): void {
    const data = this.pending?.take();
    if (data === undefined || this.socket.readyState !== 1) return;
    this.socket.send(data, { binary: false });
  }

  private cutSlowConsumer(buffered: number): void {
    const congestedMs = this.congestedSince === undefined ? 0 : Date.now() - this.congestedSince;
    this.log.warn({ buffered, congestedMs, skipped: this.skippedFrames }, 'slow consumer: closing');
    this.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer');
  }

  /**
   * A frame published on a session topic: held while that session's join is being answered. Past the
   * hold's bound the socket is closed with 1013 (the client rejoins with `afterSeq`).
   */
  deliver(frame: string, ephemeral: boolean, sessionId?: string, seq?: number, slot?: RunSlot): void {
    if (sessionId !== undefined) {
      const hold = this.holds.get(sessionId);
      if (hold) {
        hold.bytes += Buffer.byteLength(frame);
        if (hold.bytes > hold.maxBytes) {
          this.holds.delete(sessionId);
          this.log.warn(
            { sessionId, held: hold.frames.length + 1, bytes: hold.bytes },
            'join backlog too large: closing',
          );
          this.close(CloseCode.TRY_AGAIN_LATER, 'join backlog too large');
          return;
        }
        hold.frames.push({ frame, ephemeral, seq: seq ?? 0 });
        return;
      }
    }
    this.sendFrame(frame, ephemeral, slot);
  }

  /** Starts holding back live frames of a session, up to `maxBytes` of them (idempotent). */
  hold(sessionId: string, maxBytes: number): void {
    if (!this.holds.has(sessionId)) this.holds.set(sessionId, { frames: [], bytes: 0, maxBytes });
  }

  /**
   * Stops holding and sends the held frames whose seq is above `afterSeq` (the last one the client
   * already has from the replay), in order: no gap and no duplicate at the seam.
   */
  release(sessionId: string, afterSeq = -1): void {
    const hold = this.holds.get(sessionId);
    if (!hold) return;
    this.holds.delete(sessionId);
    for (const h of hold.frames) if (h.seq > afterSeq) this.sendFrame(h.frame, h.ephemeral);
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    // What this turn already sent (e.g. `server_shutdown`) leaves before the close frame.
    if (this.pending?.size) {
      turnOutbox.forget(this);
      this.flushPending();
    }
    this.closing = true;
    this.replies.clear();
    if (this.authDeadline) clearTimeout(this.authDeadline);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    if (this.stallTimer) clearTimeout(this.stallTimer);
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }
}
