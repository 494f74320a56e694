/**
 * Coalesced delivery (protocol version 2, docs/protocol.md §2.1): every frame a v2 connection is sent
 * during one event-loop turn leaves at the end of that turn as one WebSocket frame,
 * `{"type":"batch","events":[…]}`, in the order the frames were sent; a turn with a single frame sends
 * it as it is. Nothing is held past the turn (the flush is a `setImmediate`).
 *
 * A broadcast hands the same frames to many connections. Each topic's frames of the turn form a
 * `FanoutRun`; a connection that received an unbroken stretch of one run (the usual case: every viewer
 * of a streaming session) shares the batch built for that stretch, so a batch is serialised and encoded
 * once per recipient set, not once per recipient.
 */

/** Where a broadcast frame sits in its topic's run for this turn. */
export interface RunSlot {
  readonly run: FanoutRun;
  readonly index: number;
}

/** The frames published on one topic during the current turn. */
export class FanoutRun {
  private readonly frames: string[] = [];
  private readonly built = new Map<number, Buffer>();

  add(frame: string): RunSlot {
    return { run: this, index: this.frames.push(frame) - 1 };
  }

  /** The encoded frame (one event) or batch (several) for frames `start`..`end - 1`, built once. */
  encoded(start: number, end: number): Buffer {
    const key = start * 0x100000 + end;
    let data = this.built.get(key);
    if (!data) {
      data = Buffer.from(
        end - start === 1 ? this.frames[start] : batchFrame(this.frames.slice(start, end)),
        'utf8',
      );
      this.built.set(key, data);
    }
    return data;
  }
}

export function batchFrame(frames: readonly string[]): string {
  return `{"type":"batch","events":[${frames.join(',')}]}`;
}

/** One v2 connection's frames of the current turn. */
export class PendingFrames {
  private frames: string[] = [];
  /** Characters queued (counted against the slow-consumer thresholds with the socket's buffer). */
  length = 0;
  /** Set while every queued frame is the next one of a single run. */
  private shared?: { run: FanoutRun; start: number; next: number };

  get size(): number {
    return this.frames.length;
  }

  add(frame: string, slot?: RunSlot): void {
    if (this.frames.length === 0) {
      this.shared = slot && { run: slot.run, start: slot.index, next: slot.index + 1 };
    } else if (this.shared && slot?.run === this.shared.run && slot.index === this.shared.next) {
      this.shared.next++;
    } else {
      this.shared = undefined;
    }
    this.frames.push(frame);
    this.length += frame.length;
  }

  /** Empties the queue into what goes on the wire: one frame, or one batch of all of them. */
  take(): Buffer | string | undefined {
    const frames = this.frames;
    if (frames.length === 0) return undefined;
    const shared = this.shared;
    this.frames = [];
    this.length = 0;
    this.shared = undefined;
    if (shared) return shared.run.encoded(shared.start, shared.next);
    return frames.length === 1 ? frames[0] : batchFrame(frames);
  }
}

/** What the outbox flushes at the end of a turn. */
export interface Coalescing {
  flushPending(): void;
}

/** The process's turn: which connections have frames queued, and each topic's run. */
export class TurnOutbox {
  private queued = new Set<Coalescing>();
  private runs = new Map<string, FanoutRun>();
  private scheduled = false;
  private readonly flush = (): void => {
    const queued = this.queued;
    this.queued = new Set();
    this.scheduled = false;
    for (const target of queued) target.flushPending();
    // Runs live until every batch built from them is sent.
    this.runs = new Map();
  };

  /** Places a broadcast frame in `topic`'s run for this turn. */
  slot(topic: string, frame: string): RunSlot {
    let run = this.runs.get(topic);
    if (!run) {
      run = new FanoutRun();
      this.runs.set(topic, run);
    }
    return run.add(frame);
  }

  /** Flushes `target` at the end of this turn (once, however many frames it queues). */
  schedule(target: Coalescing): void {
    this.queued.add(target);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** A target flushed early (before it closes) leaves this turn's list. */
  forget(target: Coalescing): void {
    this.queued.delete(target);
  }
}

/** One turn per process: every v2 connection and every broadcaster share it. */
export const turnOutbox = new TurnOutbox();
