import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The answer to one client frame: whatever the frame's handler (or its error) sends to the same
 * connection while the frame is being served.
 */
export class Reply {
  ended = false;
  /** Frames sent while an earlier frame's answer was still open: they leave after it. */
  frames?: string[];
  private whenHead?: () => void;

  constructor(readonly queue: ReplyQueue) {}

  /** Resolves once every earlier frame of the connection has been answered. */
  head(): Promise<void> {
    if (this.queue.isHead(this)) return Promise.resolve();
    return new Promise((resolve) => (this.whenHead = resolve));
  }

  /** Called by the queue when this reply becomes the first open one. */
  promoted(): void {
    const resolve = this.whenHead;
    this.whenHead = undefined;
    resolve?.();
  }
}

/** Which frame's answer the running code belongs to (carried across awaits). */
const current = new AsyncLocalStorage<Reply>();

/**
 * Keeps the answers to one connection's frames in the order the frames arrived, whatever each
 * handler awaits: a frame's answer is written at once when every earlier frame has been answered,
 * otherwise it waits (in memory, bounded by the message rate limit) behind them. Broadcast frames do
 * not pass here; they are ordered by their topics.
 */
export class ReplyQueue {
  private readonly open: Reply[] = [];

  constructor(private readonly write: (frame: string) => void) {}

  /** The reply of the code running now, when it belongs to this queue and is still open. */
  static current(queue: ReplyQueue): Reply | undefined {
    const reply = current.getStore();
    return reply !== undefined && reply.queue === queue && !reply.ended ? reply : undefined;
  }

  /** Opens the answer of a newly arrived frame. */
  begin(): Reply {
    const reply = new Reply(this);
    this.open.push(reply);
    return reply;
  }

  /** Runs `fn` as part of `reply`: what it sends (now or after awaits) belongs to that answer. */
  run<T>(reply: Reply, fn: () => T): T {
    return current.run(reply, fn);
  }

  isHead(reply: Reply): boolean {
    return this.open[0] === reply;
  }

  send(reply: Reply, frame: string): void {
    if (this.isHead(reply)) this.write(frame);
    else (reply.frames ??= []).push(frame);
  }

  /** The frame has been answered: later answers that were waiting behind it leave now. */
  end(reply: Reply): void {
    if (reply.ended) return;
    reply.ended = true;
    if (!this.isHead(reply)) return;
    while (this.open.length > 0) {
      const head = this.open[0];
      if (head.frames) {
        const frames = head.frames;
        head.frames = undefined;
        for (const frame of frames) this.write(frame);
      }
      if (!head.ended) {
        head.promoted();
        return;
      }
      this.open.shift();
    }
  }

  /** The connection closed: nothing is written any more. */
  clear(): void {
    for (const reply of this.open) {
      reply.ended = true;
      reply.frames = undefined;
      reply.promoted();
    }
    this.open.length = 0;
  }
}
