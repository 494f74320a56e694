/**
 * One running turn: pacing, the one-shot turn knobs, steering, interrupts and waits for answers.
 * Agents script a turn through this class; they never touch sockets.
 */
import { randomBytes } from 'node:crypto';
import type { Agent } from './agents/types';
import type { TurnKnobs } from './knobs';
import type { Workspace } from './workspace';

export type Fields = Record<string, unknown>;

/** How a turn reaches the gateway; implemented by the instance. */
export interface FrameChannel {
  hasListener(): boolean;
  /** Sends to every open event socket; `drain` is set when a socket buffer is above its high-water mark. */
  deliver(data: string): { sent: number; drain?: Promise<void> };
  /** Resolves true when an event socket is open again, false on timeout or abort. */
  waitForListener(timeoutMs: number, signal: AbortSignal): Promise<boolean>;
  /** Abruptly terminates every event socket (no close frame). */
  terminateListeners(reason: string): void;
}

export interface TurnEnv {
  channel: FrameChannel;
  knobs: TurnKnobs;
  tokenDelayMs(): number;
  reconnectGraceMs(): number;
  log(line: string): void;
}

export type Reply =
  | { kind: 'answer_question'; answers: unknown; dismissed: boolean }
  | { kind: 'permission_response'; approved: boolean };

export type TurnState = 'running' | 'waiting' | 'stalled' | 'ended';

/** Why a turn was stopped from outside: `interrupt` envelope, or the instance going away. */
class TurnStop extends Error {
  constructor(readonly reason: 'interrupted' | 'cancelled') {
    super(`turn ${reason}`);
  }
}

const YIELD_EVERY_FAST_FRAMES = 256;

export class Turn {
  /** Extra usage an agent wants to report on top of the text-derived token counts. */
  readonly usage = { extraInputTokens: 0, extraOutputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
  private model = 'sim';
  private streamed = '';
  private unackedSteers: string[] = [];
  private framesSent = 0;
  private fastSinceYield = 0;
  private state: TurnState = 'running';
  private socketDropped = false;
  private unattended = false;
  private readonly controller = new AbortController();
  private readonly replies = new Map<string, (reply: Reply) => void>();

  constructor(
    readonly id: string,
    readonly prompt: string,
    /** 1-based number of this turn within its instance. */
    readonly number: number,
    readonly workspace: Workspace,
    private readonly env: TurnEnv,
  ) {}

  /** Text streamed so far (all `stream_update` texts concatenated). */
  get text(): string {
    return this.streamed;
  }

  get status(): { turn_id: string; state: TurnState; frames: number } {
    return { turn_id: this.id, state: this.state, frames: this.framesSent };
  }

  /** Runs the whole turn: `stream_start`, optional burst, the agent script, then the ending frames. Never throws. */
  async run(agent: Agent): Promise<void> {
    this.model = agent.model;
    try {
      await this.emit('stream_start');
      if (this.env.knobs.burst) await this.burst(this.env.knobs.burst.frames);
      await agent.run(this);
      await this.finish();
    } catch (err) {
      this.endAbnormally(err);
    }
  }

  /** Waits the token delay, then sends a frame. */
  async emit(type: string, fields: Fields = {}, onSent?: () => void): Promise<void> {
    await this.sleep(this.env.tokenDelayMs());
    await this.send(type, fields, onSent);
  }

  /** Sends a frame without delay, only waiting when the socket buffer is full. */
  async emitFast(type: string, fields: Fields = {}, onSent?: () => void): Promise<void> {
    await this.send(type, fields, onSent);
    if (++this.fastSinceYield >= YIELD_EVERY_FAST_FRAMES) {
      this.fastSinceYield = 0;
      await this.guard(new Promise<void>((resolve) => setImmediate(resolve)));
    }
  }

  /** Streams a text delta (`stream_update {text}`); pending steers are acknowledged in front of it. */
  async streamText(chunk: string, fast = false): Promise<void> {
    let text = chunk;
    if (this.unackedSteers.length > 0) {
      text = this.unackedSteers.map((s) => `(steered: ${s}) `).join('') + text;
      this.unackedSteers = [];
    }
    if (!text) return;
    const onSent = () => {
      this.streamed += text;
    };
    if (fast) await this.emitFast('stream_update', { text }, onSent);
    else await this.emit('stream_update', { text }, onSent);
  }

  /** Emits a question/permission frame and waits (state `waiting`) until the gateway replies to `request_id`. */
  async request(type: string, fields: Fields & { request_id: string }): Promise<Reply> {
    const reply = new Promise<Reply>((resolve) => this.replies.set(fields.request_id, resolve));
    try {
      await this.emit(type, fields);
      this.state = 'waiting';
      this.env.log(`turn ${this.id} waiting for reply to ${fields.request_id}`);
      return await this.guard(reply);
    } finally {
      this.replies.delete(fields.request_id);
      if (this.state === 'waiting') this.state = 'running';
    }
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return this.guard(Promise.resolve());
    return this.guard(new Promise<void>((resolve) => setTimeout(resolve, ms)));
  }

  newId(prefix: string): string {
    return `${prefix}_${randomBytes(6).toString('hex')}`;
  }

  // ---- called by the instance on inbound control envelopes ----

  steer(text: string): boolean {
    if (this.state === 'ended') return false;
    this.unackedSteers.push(text);
    return true;
  }

  interrupt(): boolean {
    if (this.state === 'ended' || this.controller.signal.aborted) return false;
    this.controller.abort(new TurnStop('interrupted'));
    return true;
  }

  /** Ends the turn silently (instance stopped or simulator closing). */
  cancel(): void {
    if (!this.controller.signal.aborted) this.controller.abort(new TurnStop('cancelled'));
  }

  resolveReply(requestId: string, reply: Reply): boolean {
    const resolve = this.replies.get(requestId);
    if (!resolve) return false;
    this.replies.delete(requestId);
    resolve(reply);
    return true;
  }

  // ---- internals ----

  private async burst(frames: number): Promise<void> {
    this.env.log(`turn ${this.id} burst of ${frames} frames`);
    for (let i = 0; i < frames; i++) await this.streamText(benchChunk(i), true);
  }

  private async finish(): Promise<void> {
    if (this.unackedSteers.length > 0) await this.streamText('');
    const ended = () => {
      this.state = 'ended';
    };
    if (this.env.knobs.upstreamError) {
      this.env.log(`turn ${this.id} ends with a simulated upstream error`);
      await this.emit('error', { message: 'Simulated upstream failure', code: 'upstream_error' }, ended);
      return;
    }
    await this.emit('usage', this.usageFields());
    await this.emit('stream_end', { text: this.streamed }, ended);
    this.env.log(`turn ${this.id} complete (${this.framesSent} frames)`);
  }

  private endAbnormally(err: unknown): void {
    if (this.state === 'ended') return;
    const wasStalled = this.state === 'stalled';
    this.state = 'ended';
    if (err instanceof TurnStop) {
      if (err.reason === 'cancelled') return this.env.log(`turn ${this.id} cancelled`);
      if (wasStalled) return this.env.log(`turn ${this.id} interrupted while stalled: no frames sent`);
      this.env.log(`turn ${this.id} interrupted`);
      this.sendNow('usage', this.usageFields());
      this.sendNow('stream_end', { text: this.streamed, stopped: true });
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.env.log(`turn ${this.id} agent failure: ${message}`);
    this.sendNow('error', { message: `agent failure: ${message}`, code: 'agent_error' });
  }

  private async send(type: string, fields: Fields, onSent?: () => void): Promise<void> {
    this.throwIfStopped();
    const { stallAfterFrames, dropStreamAfterFrames } = this.env.knobs;
    if (stallAfterFrames !== null && this.framesSent >= stallAfterFrames) {
      this.state = 'stalled';
      this.env.log(`turn ${this.id} stalled after ${this.framesSent} frames (stallAfterFrames)`);
      await this.guard(new Promise<never>(() => undefined));
    }
    if (dropStreamAfterFrames !== null && !this.socketDropped && this.framesSent >= dropStreamAfterFrames) {
      this.socketDropped = true;
      this.env.channel.terminateListeners(`dropStreamAfterFrames=${dropStreamAfterFrames}`);
    }
    if (!this.env.channel.hasListener() && !this.unattended) {
      const grace = this.env.reconnectGraceMs();
      const back = grace > 0 && (await this.env.channel.waitForListener(grace, this.controller.signal));
      this.throwIfStopped();
      if (!back) {
        this.unattended = true;
        this.env.log(`turn ${this.id} has no event socket: frames are lost until one connects`);
      }
    }
    this.framesSent++;
    const { sent, drain } = this.env.channel.deliver(this.frame(type, fields));
    onSent?.();
    if (sent > 0) this.unattended = false;
    if (drain) await this.guard(drain);
  }

  private sendNow(type: string, fields: Fields): void {
    this.framesSent++;
    this.env.channel.deliver(this.frame(type, fields));
  }

  private frame(type: string, fields: Fields): string {
    return JSON.stringify({ messageType: type, content: { event_type: type, turn_id: this.id, ...fields } });
  }

  private usageFields(): Fields {
    return {
      model: this.model,
      input_tokens: estimateTokens(this.prompt) + this.usage.extraInputTokens,
      output_tokens: estimateTokens(this.streamed) + this.usage.extraOutputTokens,
      cache_read_tokens: this.usage.cacheReadTokens,
      cache_write_tokens: this.usage.cacheWriteTokens,
    };
  }

  private throwIfStopped(): void {
    if (this.controller.signal.aborted) throw this.controller.signal.reason;
  }

  /** Rejects with the stop reason as soon as the turn is interrupted or cancelled. */
  private guard<T>(promise: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      );
    });
  }
}

/** Roughly 4 characters per token, at least 1 for non-empty text. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** 16-character filler used by bursts and `bench:N`. */
export function benchChunk(i: number): string {
  return `${String(i).padStart(15, '0')} `;
}
