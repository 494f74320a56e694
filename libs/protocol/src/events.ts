/** Every server → client event, as one discriminated union (protocol.md §11). */
import type { ErrorCode } from './errors';
import type { HistoryMessage, Identity, Member, SessionMeta, SessionState } from './session';

/** The version of a connection that states no preference. */
export const PROTOCOL_VERSION = 1;
/** 2 = coalesced delivery: a turn's frames arrive as one `batch` frame (protocol.md §2.1). */
export const SUPPORTED_PROTOCOL_VERSIONS: readonly number[] = [1, 2];

/** Fields the publisher stamps on every session-scoped pipeline event. */
export interface Sequenced {
  sessionId: string;
  seq: number;
  ts: number;
}
interface InTurn extends Sequenced {
  turnId: string;
}

// ── connection lifecycle ────────────────────────────────────────────────────
export interface WelcomeEvent {
  type: 'welcome';
  protocolVersion: number;
  requiresAuth: boolean;
}
export interface ConnectedEvent {
  type: 'connected';
  clientId: string;
  heartbeatIntervalMs: number;
  ts: number;
}
export interface AuthenticatedEvent {
  type: 'authenticated';
  identity: Identity;
}
export interface HeartbeatEvent {
  type: 'heartbeat';
  ts: number;
}
export interface PongEvent {
  type: 'pong';
  clientTs?: number;
  ts: number;
}
export interface ServerShutdownEvent {
  type: 'server_shutdown';
  reason: string;
  reconnectAfterMs?: number;
  ts: number;
}
export interface ErrorEvent {
  type: 'error';
  code: ErrorCode;
  message: string;
  retryAfterMs?: number;
}

// ── session lifecycle (tenant topic + direct responses) ─────────────────────
export interface SessionListEvent {
  type: 'session_list';
  sessions: SessionMeta[];
}
export interface SessionCreatedEvent {
  type: 'session_created';
  session: SessionMeta;
}
export interface SessionRenamedEvent {
  type: 'session_renamed';
  sessionId: string;
  name: string;
  session: SessionMeta;
}
export interface SessionArchivedEvent {
  type: 'session_archived';
  sessionId: string;
  session: SessionMeta;
}
export interface SessionUnarchivedEvent {
  type: 'session_unarchived';
  sessionId: string;
  session: SessionMeta;
}
export interface SessionDeletedEvent {
  type: 'session_deleted';
  sessionId: string;
}
export interface SessionStateEvent extends Sequenced {
  type: 'session_state';
  state: SessionState;
  previousState: SessionState;
  reason?: string;
}

// ── session interaction ─────────────────────────────────────────────────────
export interface ActiveTurn {
  turnId: string;
  startedAt: number;
  text: string;
}
export interface StateSnapshotEvent {
  type: 'state_snapshot';
  sessionId: string;
  session: SessionMeta;
  lastSeq: number;
  activeTurn: ActiveTurn | null;
  pendingRequest: QuestionRequestedEvent | PermissionRequestedEvent | null;
  recentMessages: HistoryMessage[];
}
export interface SessionLeftEvent {
  type: 'session_left';
  sessionId: string;
}
export interface UserMessageEvent extends InTurn {
  type: 'user_message';
  text: string;
  userId: string;
}
export interface SteerSentEvent extends InTurn {
  type: 'steer_sent';
  text: string;
  userId: string;
}

// ── turns ───────────────────────────────────────────────────────────────────
export interface TurnStartedEvent extends InTurn {
  type: 'turn_started';
  clientTurnId?: string;
  text?: string;
}
export interface TurnCompleteEvent extends InTurn {
  type: 'turn_complete';
  finalText: string;
}
/**
 * The codes a `turn_error` carries. The gateway's own: the agent could not be reached or was lost
 * (`AGENT_UNAVAILABLE`), sent nothing for too long (`UPSTREAM_STALLED`), or the session was deactivated
 * under the turn (`SESSION_DEACTIVATED`). An error the agent reports is `UPSTREAM_ERROR` unless its code
 * is one of these; the agent's own code is kept in `detail`.
 */
export const TURN_ERROR_CODES = [
  'AGENT_UNAVAILABLE',
  'UPSTREAM_STALLED',
  'SESSION_DEACTIVATED',
  'UPSTREAM_ERROR',
  'INTERNAL_ERROR',
] as const;
export type TurnErrorCode = (typeof TURN_ERROR_CODES)[number];

export interface TurnErrorEvent extends InTurn {
  type: 'turn_error';
  code: TurnErrorCode;
  message: string;
  /** The code the agent reported, when it is not one of TURN_ERROR_CODES. */
  detail?: string;
}
export interface TurnStoppedEvent extends InTurn {
  type: 'turn_stopped';
}
export interface TextDeltaEvent extends InTurn {
  type: 'text_delta';
  text: string;
}

// ── thinking ────────────────────────────────────────────────────────────────
export interface ThinkingStartEvent extends InTurn {
  type: 'thinking.start';
}
export interface ThinkingProgressEvent extends InTurn {
  type: 'thinking.progress';
  text: string;
}
export interface ThinkingCompleteEvent extends InTurn {
  type: 'thinking.complete';
  text: string;
  durationMs?: number;
}

// ── tools ───────────────────────────────────────────────────────────────────
export interface ToolCallStartEvent extends InTurn {
  type: 'tool_call_start';
  toolCallId: string;
  toolName: string;
}
export interface ToolCallDeltaEvent extends InTurn {
  type: 'tool_call_delta';
  toolCallId: string;
  delta: string;
}
export interface ToolCallEvent extends InTurn {
  type: 'tool_call';
  toolCallId: string;
  toolName: string;
  input: Record<string, unknown>;
}
export interface ToolResultEvent extends InTurn {
  type: 'tool_result';
  toolCallId: string;
  toolName?: string;
  output: string | Record<string, unknown>;
  isError?: boolean;
  durationMs?: number;
}
export interface ToolErrorEvent extends InTurn {
  type: 'tool_error';
  toolCallId: string;
  error: string;
}

// ── interactive ─────────────────────────────────────────────────────────────
export interface Question {
  id: string;
  question: string;
  options?: string[];
  multiSelect?: boolean;
}
export interface QuestionRequestedEvent extends InTurn {
  type: 'question_requested';
  requestId: string;
  questions: Question[];
}
export interface PermissionRequestedEvent extends InTurn {
  type: 'permission_requested';
  requestId: string;
  toolName: string;
  description: string;
  input?: Record<string, unknown>;
}
export interface ApprovalResolvedEvent extends InTurn {
  type: 'approval_resolved';
  requestId: string;
  approved?: boolean;
  answers?: Record<string, string | string[]> | string;
  dismissed?: boolean;
  resolvedBy?: string;
}

// ── terminal, sandbox, files, usage ─────────────────────────────────────────
export interface TerminalStreamEvent extends InTurn {
  type: 'terminal.stream';
  toolCallId?: string;
  command?: string;
  stream: 'stdout' | 'stderr';
  data: string;
}
export interface TerminalCompleteEvent extends InTurn {
  type: 'terminal.complete';
  toolCallId?: string;
  command?: string;
  exitCode: number;
  output?: string;
}
export interface SandboxInitEvent extends Sequenced {
  type: 'sandbox_init';
  turnId?: string;
  provider?: string;
  sandboxId?: string;
}
export interface SandboxProvisioningEvent extends Sequenced {
  type: 'sandbox_provisioning';
  turnId?: string;
  phase?: string;
  message?: string;
  sandboxId?: string;
}
export interface SandboxReadyEvent extends Sequenced {
  type: 'sandbox_ready';
  turnId?: string;
  sandboxId?: string;
}
export interface SandboxRemovedEvent extends Sequenced {
  type: 'sandbox_removed';
  turnId?: string;
  reason?: string;
  sandboxId?: string;
}
export interface FileChangedEvent extends Sequenced {
  type: 'file_changed';
  turnId?: string;
  path: string;
  changeType: 'created' | 'modified' | 'deleted';
  iteration?: number;
}
export interface UsageUpdateEvent extends InTurn {
  type: 'usage_update';
  model?: string;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  /** What the turn was charged, in micro-credits (the unit of every balance and ledger entry). */
  credits?: number;
  /** Same value as `credits`; an alias kept for clients written against protocol 1.0. */
  cost?: number;
  /** The charge in US dollars, when the upstream reports it. */
  costUsd?: number;
}

// ── responses ───────────────────────────────────────────────────────────────
export interface HistoryEvent {
  type: 'history';
  sessionId: string;
  messages: HistoryMessage[];
  hasMore: boolean;
}
export interface EventsEvent {
  type: 'events';
  sessionId: string;
  events: SessionEvent[];
  lastSeq: number;
  hasMore: boolean;
}
export interface FileEntry {
  path: string;
  name: string;
  type: 'file' | 'directory';
  size?: number;
  modifiedAt?: number;
}
export interface FileListEvent {
  type: 'file_list';
  sessionId: string;
  path: string;
  entries: FileEntry[];
}
export interface FileContentEvent {
  type: 'file_content';
  sessionId: string;
  path: string;
  content: string;
  encoding: 'utf8' | 'base64';
  size: number;
  iteration?: number;
}
export interface FileIteration {
  iteration: number;
  timestamp: number;
  size: number;
  hash: string;
}
export interface FileHistoryEvent {
  type: 'file_history';
  sessionId: string;
  path: string;
  iterations: FileIteration[];
}
export interface MemberListEvent {
  type: 'member_list';
  members: Member[];
}

/** Events produced inside a session by the pipeline: they carry `seq` and `ts`. */
export type SessionEvent =
  | SessionStateEvent
  | UserMessageEvent
  | SteerSentEvent
  | TurnStartedEvent
  | TurnCompleteEvent
  | TurnErrorEvent
  | TurnStoppedEvent
  | TextDeltaEvent
  | ThinkingStartEvent
  | ThinkingProgressEvent
  | ThinkingCompleteEvent
  | ToolCallStartEvent
  | ToolCallDeltaEvent
  | ToolCallEvent
  | ToolResultEvent
  | ToolErrorEvent
  | QuestionRequestedEvent
  | PermissionRequestedEvent
  | ApprovalResolvedEvent
  | TerminalStreamEvent
  | TerminalCompleteEvent
  | SandboxInitEvent
  | SandboxProvisioningEvent
  | SandboxReadyEvent
  | SandboxRemovedEvent
  | FileChangedEvent
  | UsageUpdateEvent;

export type SessionEventType = SessionEvent['type'];

/** Distributes Omit over a union so each member keeps its own fields. */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A session event before the publisher stamps `seq` and `ts`. */
export type UnsequencedEvent = DistributiveOmit<SessionEvent, 'seq' | 'ts'>;

export type ServerEvent =
  | WelcomeEvent
  | ConnectedEvent
  | AuthenticatedEvent
  | HeartbeatEvent
  | PongEvent
  | ServerShutdownEvent
  | ErrorEvent
  | SessionListEvent
  | SessionCreatedEvent
  | SessionRenamedEvent
  | SessionArchivedEvent
  | SessionUnarchivedEvent
  | SessionDeletedEvent
  | StateSnapshotEvent
  | SessionLeftEvent
  | HistoryEvent
  | EventsEvent
  | FileListEvent
  | FileContentEvent
  | FileHistoryEvent
  | MemberListEvent
  | SessionEvent;

export type ServerEventType = ServerEvent['type'];
export type ServerEventOf<T extends ServerEventType> = Extract<ServerEvent, { type: T }>;

/** Durable events are persisted with their `seq` and replayable through `get_events` (protocol.md §8.3). */
export const DURABLE_EVENT_TYPES: ReadonlySet<SessionEventType> = new Set<SessionEventType>([
  'session_state',
  'user_message',
  'steer_sent',
  'turn_started',
  'turn_complete',
  'turn_error',
  'turn_stopped',
  'thinking.complete',
  'tool_call',
  'tool_result',
  'tool_error',
  'question_requested',
  'permission_requested',
  'approval_resolved',
  'terminal.complete',
  'sandbox_init',
  'sandbox_provisioning',
  'sandbox_ready',
  'sandbox_removed',
  'file_changed',
  'usage_update',
]);

export function isDurable(type: SessionEventType): boolean {
  return DURABLE_EVENT_TYPES.has(type);
}

/**
 * Protocol v2's envelope: the frames one connection was sent during one event-loop turn, in order, each
 * exactly as v1 would have sent it alone. Never nested; a turn with one frame sends it unwrapped.
 */
export interface BatchFrame {
  type: 'batch';
  events: ServerEvent[];
}

/** What one WebSocket frame from the gateway holds. */
export type WireFrame = ServerEvent | BatchFrame;

/** Close codes (protocol.md §4.4). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  POLICY_VIOLATION: 1008,
  INTERNAL_ERROR: 1011,
  /** The tenant moved to another instance (lease lost or owner gone): reconnect, then rejoin. */
  SERVICE_RESTART: 1012,
  TRY_AGAIN_LATER: 1013,
  AUTH_TIMEOUT: 4001,
  /** The tenant is served by another shard (SHARD_TENANTS): fix the routing hint, do not retry here. */
  TENANT_NOT_SERVED: 4021,
} as const;
