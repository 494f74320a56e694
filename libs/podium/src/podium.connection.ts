import { EventEmitter } from 'node:events';
import { Logger } from '@nestjs/common';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import type { PodiumControlEnvelope } from './podium.envelopes';
import { PodiumError } from './podium.errors';

export {
  answerQuestionMessage,
  interruptMessage,
  permissionResponse,
  processMessage,
  steerMessage,
} from './podium.envelopes';

/** An upstream frame as received: a JSON object, normally `{ messageType, content }`. */
export type PodiumFrame = Record<string, unknown>;

export type PodiumConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed' | 'lost';

export type PodiumLostReason = 'instance_not_alive' | 'reconnect_exhausted';

export interface PodiumConnectionEvents {
  /** One parsed upstream frame. Malformed frames are dropped and counted, never emitted. */
  event: [frame: PodiumFrame];
  /** The socket dropped unexpectedly; attempt `attempt` starts after `delayMs`. */
  reconnecting: [info: { attempt: number; delayMs: number }];
  reconnected: [info: { attempt: number }];
  /** Terminal: the instance is gone or every reconnect attempt failed. */
  lost: [info: { reason: PodiumLostReason }];
  /** Terminal: after an intentional `close()`. */
  closed: [];
  /** Node's own EventEmitter event, used to start delivering buffered frames. */
  newListener: [eventName: string | symbol, listener: (...args: unknown[]) => void];
}

/** What the connection needs from `PodiumClient`; kept narrow so the connection owns only its lifecycle. */
export interface PodiumConnectionDeps {
  /** Performs one handshake; calls `bind(ws)` synchronously on open, then resolves. Rejects with `PodiumError`. */
  openSocket: (bind: (ws: WebSocket) => void) => Promise<WebSocket>;
  /** Never rejects. */
  isAlive: () => Promise<boolean>;
  reconnectAttempts: number;
  reconnectBaseMs: number;
}

const OPEN = 1; // WebSocket.OPEN
const CLOSE_GRACE_MS = 1000;
/** Frames held back until the first `event` listener is attached; beyond this they are dropped and counted. */
const MAX_BUFFERED_FRAMES = 1000;

/**
 * The event stream of one Podium instance.
 *
 * Reconnect policy: when the socket closes without `close()` having been
 * called, up to `reconnectAttempts` attempts are made. Attempt n emits `reconnecting {attempt: n}`,
 * waits `reconnectBaseMs × 2ⁿ⁻¹` (500 ms, 1 s, 2 s, 4 s, 8 s by default), asks `isAlive`; if the
 * instance is not alive the connection is `lost` at once, otherwise it re-opens the socket and emits
 * `reconnected`. When the attempts run out it emits `lost`. `lost` and `closed` are terminal.
 *
 * Frames that arrive before the first `event` listener is attached (e.g. with the upgrade response,
 * before `connect()` has even resolved) are buffered and delivered, in order, on the microtask after
 * that listener is added.
 *
 * `send` throws `PodiumError { kind: 'network' }` unless the state is `open` (no queue: a control
 * message that silently waited through a reconnect could act on a turn the gateway already gave up
 * on; the caller decides). Stall detection is the gateway's job and is not done here.
 */
export class PodiumConnection extends EventEmitter<PodiumConnectionEvents> {
  private readonly logger = new Logger(PodiumConnection.name);
  private socket: WebSocket | null = null;
  private stateValue: PodiumConnectionState = 'connecting';
  private malformed = 0;
  private overflow = 0;
  /** Frames waiting for the first `event` listener; `null` once frames flow directly. */
  private pending: PodiumFrame[] | null = [];
  private wakeUp: (() => void) | null = null;
  private closePromise: Promise<void> | null = null;
  private resolveClose: (() => void) | null = null;
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly instanceId: string,
    private readonly deps: PodiumConnectionDeps,
  ) {
    super();
    this.on('newListener', (name) => {
      if (name === 'event' && this.pending) queueMicrotask(() => this.flushPending());
    });
  }

  get state(): PodiumConnectionState {
    return this.stateValue;
  }

  /** Frames dropped because they were not a JSON object. */
  get malformedFrames(): number {
    return this.malformed;
  }

  /** Frames dropped because nobody subscribed to `event` and the buffer was full. */
  get droppedFrames(): number {
    return this.overflow;
  }

  /** Opens the first socket; a failure here is not retried (the caller's activation fails). */
  async start(): Promise<void> {
    try {
      await this.deps.openSocket((ws) => {
        if (this.stateValue !== 'connecting') return ws.terminate();
        // Synchronously, so a close that follows at once is seen as unexpected and reconnects.
        this.attach(ws);
        this.stateValue = 'open';
      });
    } catch (err) {
      if (this.stateValue === 'connecting') this.stateValue = 'closed';
      throw err;
    }
  }

  /** Sends one control envelope. Throws `PodiumError` unless the connection is open. */
  send(envelope: PodiumControlEnvelope): void {
    const ws = this.socket;
    if (this.stateValue !== 'open' || !ws || ws.readyState !== OPEN) {
      throw new PodiumError('network', `Podium event stream is not open (${this.stateValue})`);
    }
    ws.send(JSON.stringify(envelope), (err) => {
      if (err) this.logger.warn(`send to instance ${this.instanceId} failed: ${err.message}`);
    });
  }

  /**
   * Closes the stream for good; never reconnects. Idempotent: every call returns the same promise,
   * which resolves once the socket is closed and `closed` has been emitted. On a connection that is
   * already `lost`, it resolves at once without emitting.
   */
  close(code = 1000, reason = 'client closing'): Promise<void> {
    if (this.closePromise) return this.closePromise;
    if (this.stateValue === 'closed' || this.stateValue === 'lost') return Promise.resolve();
    this.closePromise = new Promise<void>((resolve) => (this.resolveClose = resolve));
    this.stateValue = 'closing';
    this.wakeUp?.(); // cut a pending reconnect wait short
    const ws = this.socket;
    if (ws && ws.readyState === OPEN) {
      ws.close(code, reason);
      this.closeTimer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    } else {
      if (ws) ws.terminate();
      process.nextTick(() => this.finishClose());
    }
    return this.closePromise;
  }

  private attach(ws: WebSocket): void {
    this.socket = ws;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.logger.debug(`socket error on instance ${this.instanceId}: ${err.message}`));
    ws.once('close', (code) => this.onClose(ws, code));
  }

  private onMessage(data: RawData, _isBinary: boolean): void {
    let frame: unknown;
    try {
      const buffer = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      const text = buffer.toString('utf8');
      frame = JSON.parse(text);
    } catch {
      frame = undefined;
    }
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      this.malformed += 1;
      this.logger.debug(
        `dropped malformed frame from instance ${this.instanceId} (${this.malformed} so far)`,
      );
      return;
    }
    if (this.pending) {
      if (this.pending.length < MAX_BUFFERED_FRAMES) this.pending.push(frame as PodiumFrame);
      else this.overflow += 1;
      return;
    }
    this.deliver(frame as PodiumFrame);
  }

  private flushPending(): void {
    const frames = this.pending;
    if (!frames) return;
    this.pending = null;
    for (const frame of frames) this.deliver(frame);
  }

  private deliver(frame: PodiumFrame): void {
    try {
      this.emit('event', frame);
    } catch (err) {
      // A failing listener must not tear down the socket or crash the process.
      this.logger.error(`event listener failed for instance ${this.instanceId}: ${(err as Error).message}`);
    }
  }

  private onClose(ws: WebSocket, code: number): void {
    if (this.socket !== ws) return;
    this.socket = null;
    if (this.stateValue === 'closing') {
      this.finishClose();
      return;
    }
    if (this.stateValue !== 'open') return;
    this.logger.warn(`event stream of instance ${this.instanceId} closed unexpectedly (code ${code})`);
    void this.reconnect();
  }

  private finishClose(): void {
    if (this.stateValue === 'closed') return;
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = null;
    this.stateValue = 'closed';
    this.safeEmit('closed');
    this.resolveClose?.();
  }

  private async reconnect(): Promise<void> {
    this.stateValue = 'reconnecting';
    for (let attempt = 1; attempt <= this.deps.reconnectAttempts; attempt++) {
      const delayMs = this.deps.reconnectBaseMs * 2 ** (attempt - 1);
      this.safeEmit('reconnecting', { attempt, delayMs });
      await this.wait(delayMs);
      if (this.stateValue !== 'reconnecting') return;
      const alive = await this.deps.isAlive();
      if (this.stateValue !== 'reconnecting') return;
      if (!alive) return this.lose('instance_not_alive');
      try {
        await this.deps.openSocket((ws) => {
          if (this.stateValue !== 'reconnecting') return ws.terminate(); // close() won the race
          this.attach(ws);
          this.stateValue = 'open';
          this.safeEmit('reconnected', { attempt });
        });
        return;
      } catch (err) {
        if (this.stateValue !== 'reconnecting') return;
        this.logger.debug(
          `reconnect attempt ${attempt} for instance ${this.instanceId} failed: ${(err as Error).message}`,
        );
      }
    }
    this.lose('reconnect_exhausted');
  }

  private lose(reason: PodiumLostReason): void {
    this.stateValue = 'lost';
    this.logger.warn(`event stream of instance ${this.instanceId} lost: ${reason}`);
    this.safeEmit('lost', { reason });
  }

  /** Listener exceptions are logged, never thrown into socket callbacks (which would crash the process). */
  private safeEmit<K extends 'reconnecting' | 'reconnected' | 'lost' | 'closed'>(
    name: K,
    ...args: PodiumConnectionEvents[K]
  ): void {
    try {
      (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args);
    } catch (err) {
      this.logger.error(`${name} listener failed for instance ${this.instanceId}: ${(err as Error).message}`);
    }
  }

  /** A cancellable delay: `close()` wakes it early. */
  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }
}
