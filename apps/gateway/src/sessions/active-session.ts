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

/** In-memory record of a session that is not `inactive`. */
export class ActiveSession {
  state: SessionState = 'inactive';
  instanceId?: string;
  podium?: PodiumConnection;
  /** Last seq handed out. */
  lastSeq = 0;
  /** seq values up to this one are reserved in the registry. */
  reservedSeq = 0;
  reserving?: Promise<void>;
  /** Events waiting for a seq reservation to be persisted, in publication order. */
  backlog: { event: UnsequencedEvent; options: unknown }[] = [];
  turn?: OpenTurn;
  pending?: QuestionRequestedEvent | PermissionRequestedEvent;
  /** Request ids the gateway already resolved (the agent's own approval_resolved is then suppressed). */
  readonly resolved = new Set<string>();
  lastActivityAt = Date.now();
  waitingSince?: number;
  sandboxStatus?: string;

  constructor(
    readonly tenantId: TenantId,
    readonly sessionId: SessionId,
    readonly agentType: string,
  ) {}
}
