import type { WebSocket } from 'ws';
import type { Logger as PinoLogger } from 'pino';
import type { AuthIdentity } from '@app/auth';
import { SlidingWindow } from '@app/auth';
import { CloseCode, type ErrorCode, type ServerEvent } from '@app/protocol';

export interface SendLimits {
  /** Above this many buffered bytes, ephemeral frames are skipped for this socket. */
  skipBytes: number;
  /** Above this, the socket is closed with 1013 (slow consumer). */
  closeBytes: number;
}

/** Per-socket state: identity, joined sessions, rate window, and the one typed `send()`. */
export class Connection {
  identity?: AuthIdentity;
  /** Set while an `authenticate` is being verified. */
  authPending = false;
  readonly joined = new Set<string>();
  readonly rate: SlidingWindow;
  authDeadline?: NodeJS.Timeout;
  /** WebSocket-level keepalive: pongs missed in a row. */
  missedPongs = 0;
  skippedFrames = 0;
  private closing = false;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    readonly ip: string,
    readonly protocolVersion: number,
    public log: PinoLogger,
    rate: { max: number; windowMs: number },
    private readonly limits: SendLimits,
  ) {
    this.rate = new SlidingWindow(rate.max, rate.windowMs);
  }

  get tenantId(): string | undefined {
    return this.identity?.tenantId;
  }

  get isOpen(): boolean {
    return this.socket.readyState === 1 && !this.closing;
  }

  /** Sends one server event, echoing `requestId` when the event answers a request. */
  send(event: ServerEvent, requestId?: string): void {
    this.sendFrame(JSON.stringify(requestId === undefined ? event : { ...event, requestId }), false);
  }

  sendError(code: ErrorCode, message: string, requestId?: string, hints: { retryAfterMs?: number } = {}): void {
    this.send({ type: 'error', code, message, ...hints }, requestId);
  }

  /**
   * Sends an already-serialised frame, applying the slow-consumer policy: ephemeral frames are skipped
   * above `skipBytes` buffered; any frame above `closeBytes` closes the socket with 1013.
   * Answers false when the frame was not sent.
   */
  sendFrame(frame: string, ephemeral: boolean): boolean {
    if (!this.isOpen) return false;
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.limits.closeBytes) {
      this.log.warn({ buffered }, 'slow consumer: closing');
      this.close(CloseCode.TRY_AGAIN_LATER, 'slow consumer');
      return false;
    }
    if (ephemeral && buffered > this.limits.skipBytes) {
      this.skippedFrames++;
      return false;
    }
    this.socket.send(frame);
    return true;
  }

  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    if (this.authDeadline) clearTimeout(this.authDeadline);
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }
}
