import type { PodiumConnection } from '@app/podium';
import type { SessionId, TenantId } from '@app/common';
import type {
  PermissionRequestedEvent,
  QuestionRequestedEvent,
  SessionState,
  UnsequencedEvent,
} from '@app/protocol';
import type { Connection } from '../connection/connection';

export interface TurnUsage {
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** The turn a session is running. */
export interface OpenTurn {
  id: string;
  startedAt: number;
  userId: string;
  clientTurnId?: string;
  /** Assistant text streamed so far (served as `activeTurn.text` and used when the agent omits finalText). */
  text: string;
  thinking: string;
  thinkingStartedAt?: number;
  usage?: TurnUsage;
  /** Who asked to stop, to answer them with `turn_stopped`. */
  stopRequest?: { conn: Connection; requestId?: string };
  stopTimer?: NodeJS.Timeout;
  stallTimer?: NodeJS.Timeout;
  /** Billing reservation taken before the turn started. */
  reservationId?: string;
}

type PendingRequest = QuestionRequestedEvent | PermissionRequestedEvent;

/**
 * The publisher's position in a session's `seq` stream (only `EventPublisher` moves it): the last seq
 * handed out, the reservation persisted in the registry, and the events waiting for the next block.
 */
export class SeqCursor {
  private last = 0;
  private reserved = 0;
  /** The reservation being persisted, if one is. */
  reserving?: Promise<void>;
  /** Events waiting for a seq reservation to be persisted, in publication order. */
  readonly backlog: { event: UnsequencedEvent; options: unknown }[] = [];

  /** Last seq handed out. */
  get lastSeq(): number {
    return this.last;
  }
  /** seq values up to this one are reserved in the registry. */
  get reservedSeq(): number {
    return this.reserved;
  }
  /** Starts at (at least) `seq`, with nothing reserved above it yet. */
  startAt(seq: number): void {
    this.last = Math.max(this.last, seq);
    this.reserved = this.last;
  }
  next(): number {
    return ++this.last;
  }
  reservedUpTo(seq: number): void {
    this.reserved = seq;
  }
}

/**
 * In-memory record of a session that is not `inactive`. Its state changes only through its intent
 * methods: `enter` (called by `SessionStates`, which checks the guard map), the agent attach/detach
 * pair, the turn open/close pair and the pending request's await/resolve pair.
 */
export class ActiveSession {
  /** The publisher's seq position. */
  readonly seq = new SeqCursor();
  private current: SessionState = 'inactive';
  private instance?: string;
  private connection?: PodiumConnection;
  private openTurn?: OpenTurn;
  private request?: PendingRequest;
  /** Request ids the gateway already resolved (the agent's own approval_resolved is then suppressed). */
  private readonly resolved = new Set<string>();
  private activityAt = Date.now();
  private waitingFrom?: number;
  private sandbox?: string;

  constructor(
    readonly tenantId: TenantId,
    readonly sessionId: SessionId,
    readonly agentType: string,
  ) {}

  get state(): SessionState {
    return this.current;
  }
  get lastSeq(): number {
    return this.seq.lastSeq;
  }
  get instanceId(): string | undefined {
    return this.instance;
  }
  get podium(): PodiumConnection | undefined {
    return this.connection;
  }
  get turn(): OpenTurn | undefined {
    return this.openTurn;
  }
  get pending(): PendingRequest | undefined {
    return this.request;
  }
  get lastActivityAt(): number {
    return this.activityAt;
  }
  get waitingSince(): number | undefined {
    return this.waitingFrom;
  }
  get sandboxStatus(): string | undefined {
    return this.sandbox;
  }

  /** Records a state change the guard map allowed (`SessionStates.set`). */
  enter(to: SessionState): void {
    this.current = to;
    this.activityAt = Date.now();
    this.waitingFrom = to === 'waiting' ? Date.now() : undefined;
  }

  /** Upstream activity (an agent frame). */
  touch(): void {
    this.activityAt = Date.now();
  }

  attachInstance(instanceId: string): void {
    this.instance = instanceId;
  }

  attachConnection(connection: PodiumConnection): void {
    this.connection = connection;
  }

  /** Takes the agent (instance and event stream) away from the session, for the caller to stop. */
  detachAgent(): { connection?: PodiumConnection; instanceId?: string } {
    const agent = { connection: this.connection, instanceId: this.instance };
    this.connection = undefined;
    this.instance = undefined;
    return agent;
  }

  beginTurn(turn: OpenTurn): void {
    this.openTurn = turn;
  }

  /** Closes the open turn (its timers cleared, the pending request dropped) and answers it. */
  endTurn(): OpenTurn | undefined {
    const turn = this.openTurn;
    if (!turn) return undefined;
    this.openTurn = undefined;
    this.request = undefined;
    if (turn.stopTimer) clearTimeout(turn.stopTimer);
    if (turn.stallTimer) clearTimeout(turn.stallTimer);
    return turn;
  }

  /** The agent asked a question or a permission: pending until answered. */
  awaitAnswer(request: PendingRequest): void {
    this.request = request;
  }

  /**
   * Marks a request resolved (and no longer pending); false when it already was (the agent's echo of an
   * answer the gateway published itself).
   */
  resolve(requestId: string): boolean {
    if (this.resolved.has(requestId)) return false;
    this.resolved.add(requestId);
    if (this.request?.requestId === requestId) this.request = undefined;
    return true;
  }

  noteSandbox(status: string): void {
    this.sandbox = status;
  }
}
