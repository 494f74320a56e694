import type { Diminuendo, RequestOptions } from './client';
import { DiminuendoError } from './errors';
import { Emitter } from './emitter';
import { SessionView } from './session-view';
import type {
  Answers,
  EventsEvent,
  FileContentEvent,
  FileHistoryEvent,
  FileListEvent,
  HistoryEvent,
  ServerEventOf,
  SessionEvent,
  SessionEventType,
  StateSnapshotEvent,
} from './wire';

type SessionEventOf<T extends SessionEventType> = Extract<SessionEvent, { type: T }>;

interface HandleEvents extends Record<string, unknown> {
  /** Every event delivered (exactly once, in `seq` order). */
  '*': SessionEvent;
  /** A `state_snapshot` answered a (re-)join. */
  snapshot: StateSnapshotEvent;
}

export type TurnStatus = 'complete' | 'stopped' | 'error';
export interface TurnOutcome {
  status: TurnStatus;
  turnId: string;
  /** The server's final text (`complete`) — authoritative even when deltas were lost in a drop. */
  finalText?: string;
  /** `error`: the turn_error's code and message. */
  code?: string;
  message?: string;
}

/** A turn started by `runTurn`: its events as an async iterator, and its outcome. */
export interface Turn extends AsyncIterable<SessionEvent> {
  readonly clientTurnId: string;
  /** Resolves with the gateway's `turnId` once `turn_started` arrives. */
  readonly turnId: Promise<string>;
  /** Resolves when the turn ends (`turn_complete`, `turn_stopped` or `turn_error`). */
  readonly outcome: Promise<TurnOutcome>;
}

const TURN_ENDS = new Set<SessionEventType>(['turn_complete', 'turn_stopped', 'turn_error']);
/** Events whose own `requestId` field names a question or permission. */
const OWN_REQUEST_ID = new Set<SessionEventType>([
  'question_requested',
  'permission_requested',
  'approval_resolved',
]);

/**
 * One session: join/leave, turns, answers, reads and typed event subscriptions. While joined, every
 * durable event is delivered exactly once and in `seq` order across reconnects: after a reconnect the
 * handle re-joins with `afterSeq` = the last `seq` it delivered, drops duplicates and fills any gap with
 * `get_events` before delivering what follows it.
 */
export class SessionHandle {
  private readonly emitter = new Emitter<HandleEvents>();
  private readonly turns = new Set<TurnCollector>();
  private lastSeqValue = 0;
  private joinedValue = false;
  /** After a snapshot: its `lastSeq`, and the highest `seq` seen since on this connection. */
  private sync: { target: number; seen: number } | null = null;
  /** Events held back while a gap is being filled. */
  private held: SessionEvent[] | null = null;
  /** A join is on its way: events that arrive before its snapshot wait here (sorted by seq). */
  private joining = false;
  /**
   * Events that arrived before the join's snapshot (a request's direct answer is not held back by the
   * gateway): each is delivered just before the first later event, once the replay has reached it.
   */
  private early: SessionEvent[] = [];
  private snapshotValue: StateSnapshotEvent | undefined;
  private viewValue: SessionView | undefined;

  constructor(
    readonly id: string,
    private readonly client: Diminuendo,
  ) {}

  /** The `seq` of the last event delivered to the application. */
  get lastSeq(): number {
    return this.lastSeqValue;
  }
  get joined(): boolean {
    return this.joinedValue;
  }
  /** The last `state_snapshot` received. */
  get snapshot(): StateSnapshotEvent | undefined {
    return this.snapshotValue;
  }

  /**
   * Joins the session. Without `afterSeq`, the whole durable history is replayed first (from the last
   * `seq` delivered if this handle has joined before).
   */
  join(options: { afterSeq?: number } = {}): Promise<StateSnapshotEvent> {
    if (options.afterSeq !== undefined) this.lastSeqValue = options.afterSeq;
    this.joinedValue = true;
    return this.sendJoin();
  }

  async leave(): Promise<void> {
    this.joinedValue = false;
    this.sync = null;
    this.held = null;
    await this.client.request({ type: 'leave_session', sessionId: this.id });
  }

  /** Subscribes to one event type, or every event with '*'. Returns the unsubscribe function. */
  on<T extends SessionEventType>(type: T, listener: (event: SessionEventOf<T>) => void): () => void;
  on(type: '*', listener: (event: SessionEvent) => void): () => void;
  on(type: 'snapshot', listener: (event: StateSnapshotEvent) => void): () => void;
  on(type: string, listener: (event: never) => void): () => void {
    return this.emitter.on(type, listener as (event: unknown) => void);
  }

  /** A SessionView folded from this handle's events (one per handle, created on first use). */
  view(): SessionView {
    if (!this.viewValue) {
      const view = new SessionView(this.id);
      if (this.snapshotValue) view.applySnapshot(this.snapshotValue);
      this.on('snapshot', (s) => view.applySnapshot(s));
      this.on('*', (e) => view.apply(e));
      this.viewValue = view;
    }
    return this.viewValue;
  }

  /**
   * Starts a turn (joining first if needed). The returned Turn iterates the turn's events and resolves
   * `outcome` when it ends.
   */
  runTurn(text: string, options: { clientTurnId?: string } & RequestOptions = {}): Turn {
    const clientTurnId =
      options.clientTurnId ?? `ct-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const collector = new TurnCollector(clientTurnId, () => this.turns.delete(collector));
    this.turns.add(collector);
    void (async () => {
      try {
        if (!this.joinedValue) await this.join();
        const started = await this.client.request<ServerEventOf<'turn_started'>>(
          { type: 'run_turn', sessionId: this.id, text, clientTurnId },
          options,
        );
        collector.identify(started.turnId);
      } catch (err) {
        collector.fail(err as DiminuendoError);
      }
    })();
    return collector;
  }

  steer(text: string, turnId?: string): Promise<ServerEventOf<'steer_sent'>> {
    return this.client.request({ type: 'steer', sessionId: this.id, text, ...(turnId ? { turnId } : {}) });
  }
  stop(turnId?: string): Promise<ServerEventOf<'turn_stopped'>> {
    return this.client.request({ type: 'stop_turn', sessionId: this.id, ...(turnId ? { turnId } : {}) });
  }
  /** Answers a pending question (`answers`) or permission (`approved`), or dismisses it. */
  answer(
    requestId: string,
    reply: { answers?: Answers; approved?: boolean; dismissed?: boolean },
  ): Promise<ServerEventOf<'approval_resolved'>> {
    return this.client.request({ type: 'answer_question', sessionId: this.id, requestId, ...reply });
  }
  history(options: { limit?: number; before?: string | number } = {}): Promise<HistoryEvent> {
    return this.client.request({ type: 'get_history', sessionId: this.id, ...options });
  }
  events(afterSeq = 0, limit = 1000): Promise<EventsEvent> {
    return this.client.request({ type: 'get_events', sessionId: this.id, afterSeq, limit });
  }
  listFiles(path = '/', depth = 1): Promise<FileListEvent> {
    return this.client.request({ type: 'list_files', sessionId: this.id, path, depth });
  }
  readFile(path: string, iteration?: number): Promise<FileContentEvent> {
    return iteration === undefined
      ? this.client.request({ type: 'read_file', sessionId: this.id, path })
      : this.client.request({ type: 'file_at_iteration', sessionId: this.id, path, iteration });
  }
  fileHistory(path: string): Promise<FileHistoryEvent> {
    return this.client.request({ type: 'file_history', sessionId: this.id, path });
  }
  rename(name: string): Promise<ServerEventOf<'session_renamed'>> {
    return this.client.request({ type: 'rename_session', sessionId: this.id, name });
  }
  archive(archived = true): Promise<ServerEventOf<'session_archived' | 'session_unarchived'>> {
    return this.client.request({
      type: archived ? 'archive_session' : 'unarchive_session',
      sessionId: this.id,
    });
  }
  delete(): Promise<ServerEventOf<'session_deleted'>> {
    this.joinedValue = false;
    return this.client.request({ type: 'delete_session', sessionId: this.id });
  }

  // ── called by the client ──────────────────────────────────────────────────

  /** After a reconnect: re-join with the last delivered `seq`. */
  resync(): void {
    if (!this.joinedValue) return;
    this.sendJoin().catch(() => undefined);
  }

  onDisconnected(): void {
    this.sync = null;
    this.held = null;
    this.joining = false;
    this.early = [];
  }

  onSnapshot(snapshot: StateSnapshotEvent): void {
    if (!this.joinedValue) return;
    this.joining = false;
    this.snapshotValue = snapshot;
    this.sync = { target: snapshot.lastSeq, seen: this.lastSeqValue };
    this.emitter.emit('snapshot', snapshot);
  }

  receive(frame: SessionEvent & { requestId?: string }): void {
    if (!this.joinedValue) return;
    // The transport's requestId goes; in questions, permissions and their resolution it is the payload.
    if (frame.requestId === undefined || OWN_REQUEST_ID.has(frame.type)) return this.accept(frame);
    const { requestId: _requestId, ...event } = frame;
    this.accept(event as SessionEvent);
  }

  private accept(event: SessionEvent): void {
    if (this.joining) {
      const i = this.early.findIndex((e) => e.seq > event.seq);
      this.early.splice(i < 0 ? this.early.length : i, 0, event);
      return;
    }
    if (this.held) {
      this.held.push(event);
      return;
    }
    const sync = this.sync;
    if (sync && event.seq > sync.target) {
      this.sync = null;
      if (sync.seen < sync.target && this.lastSeqValue < sync.target) {
        this.held = [event];
        void this.fillGap(sync.target);
        return;
      }
    }
    this.deliver(event);
  }

  /** Reads stored events after the last delivered one up to `target`, then releases the held ones. */
  private async fillGap(target: number): Promise<void> {
    const held = this.held;
    try {
      let after = this.lastSeqValue;
      for (;;) {
        const page = await this.events(after, 1000);
        if (this.held !== held) return; // the connection dropped meanwhile: the next join starts over
        for (const e of page.events) this.deliver(e);
        after = page.lastSeq;
        if (!page.hasMore || after >= target) break;
      }
    } catch {
      // Nothing after the last delivered event is lost: a fresh join replays from there.
      if (this.held === held) {
        this.held = null;
        this.resync();
      }
      return;
    }
    if (this.held !== held) return;
    this.held = null;
    const rest = [...(held ?? []), ...this.early.splice(0)].sort((a, b) => a.seq - b.seq);
    for (const e of rest) this.accept(e);
  }

  private deliver(event: SessionEvent): void {
    while (this.early.length > 0 && this.early[0].seq <= event.seq) {
      const first = this.early.shift()!;
      if (first.seq < event.seq) this.deliver(first);
    }
    if (this.sync) this.sync.seen = Math.max(this.sync.seen, event.seq);
    if (event.seq <= this.lastSeqValue) return;
    this.lastSeqValue = event.seq;
    for (const turn of [...this.turns]) turn.push(event);
    this.emitter.emit(event.type, event);
    this.emitter.emit('*', event);
  }

  private sendJoin(): Promise<StateSnapshotEvent> {
    this.joining = true;
    const joined = this.client.request<StateSnapshotEvent>({
      type: 'join_session',
      sessionId: this.id,
      afterSeq: this.lastSeqValue,
    });
    joined.catch(() => {
      if (!this.joining) return;
      this.joining = false;
      const early = this.early.splice(0);
      for (const e of early) this.accept(e);
    });
    return joined;
  }
}

/** Collects one turn's events, identified by its clientTurnId until the gateway's turnId is known. */
class TurnCollector implements Turn {
  readonly turnId: Promise<string>;
  readonly outcome: Promise<TurnOutcome>;
  private id: string | undefined;
  private early: SessionEvent[] = [];
  private readonly buffer: SessionEvent[] = [];
  private readonly waiting: Array<(r: IteratorResult<SessionEvent>) => void> = [];
  private readonly waitingErr: Array<(e: unknown) => void> = [];
  private done = false;
  private error: DiminuendoError | undefined;
  private resolveId!: (id: string) => void;
  private rejectId!: (e: DiminuendoError) => void;
  private resolveOutcome!: (o: TurnOutcome) => void;
  private rejectOutcome!: (e: DiminuendoError) => void;

  constructor(
    readonly clientTurnId: string,
    private readonly release: () => void,
  ) {
    this.turnId = new Promise((res, rej) => {
      this.resolveId = res;
      this.rejectId = rej;
    });
    this.outcome = new Promise((res, rej) => {
      this.resolveOutcome = res;
      this.rejectOutcome = rej;
    });
    // Marked handled: callers may use only one of them.
    this.turnId.catch(() => undefined);
    this.outcome.catch(() => undefined);
  }

  identify(turnId: string): void {
    if (this.id !== undefined) return;
    this.id = turnId;
    this.resolveId(turnId);
    const early = this.early;
    this.early = [];
    for (const e of early) this.push(e);
  }

  push(event: SessionEvent): void {
    if (this.done) return;
    if (this.id === undefined) {
      if (event.type === 'turn_started' && event.clientTurnId === this.clientTurnId)
        this.identify(event.turnId);
      else if ('turnId' in event && event.turnId) {
        this.early.push(event);
        return;
      }
      if (this.id === undefined) return;
    }
    if (!('turnId' in event) || event.turnId !== this.id) return;
    this.emit(event);
    if (TURN_ENDS.has(event.type)) {
      const outcome: TurnOutcome =
        event.type === 'turn_complete'
          ? { status: 'complete', turnId: this.id, finalText: event.finalText }
          : event.type === 'turn_error'
            ? { status: 'error', turnId: this.id, code: event.code, message: event.message }
            : { status: 'stopped', turnId: this.id };
      this.finish();
      this.resolveOutcome(outcome);
    }
  }

  fail(err: DiminuendoError): void {
    if (this.done) return;
    this.error = err;
    this.finish();
    this.rejectId(err);
    this.rejectOutcome(err);
    for (const reject of this.waitingErr.splice(0)) reject(err);
    this.waiting.length = 0;
  }

  [Symbol.asyncIterator](): AsyncIterator<SessionEvent> {
    return {
      next: () => {
        const event = this.buffer.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.error) return Promise.reject(this.error);
        if (this.done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiting.push(resolve);
          this.waitingErr.push(reject);
        });
      },
    };
  }

  private emit(event: SessionEvent): void {
    const next = this.waiting.shift();
    this.waitingErr.shift();
    if (next) next({ value: event, done: false });
    else this.buffer.push(event);
  }

  private finish(): void {
    this.done = true;
    this.release();
    for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true });
    this.waitingErr.length = 0;
  }
}
