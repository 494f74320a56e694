/**
 * PodiumEventMapper: a pure, table-driven translation of one upstream frame
 * into 0…n gateway events. It assigns neither `seq` nor `ts` (the publisher does).
 *
 * Upstream frames are `{ messageType, content: { event_type, …snake_case fields } }`; a later revision
 * sends `{ type, event_type, content }`. The row is chosen by the first of these names that is a
 * table key: `content.event_type`, `event_type`, `messageType`, `type` (ignored when it is one of our
 * own control envelope types, so an echoed `process_message` never becomes output).
 *
 * Decisions where the spec was open:
 * - turn id: `content.turn_id` when it is a non-empty string, else `ctx.turnId`, else `''` for events
 *   whose wire type requires one. Events where it is optional (sandbox, file) omit it instead.
 * - a turn that ended because it was stopped/interrupted still maps to `turn_complete`, and the
 *   `MappedEvent` carries `stopped: true` so the gateway can publish `turn_stopped` instead.
 *   Upstream signals it with `content.stopped === true` or `stop_reason`/`reason`/`status` equal to
 *   `stopped`, `interrupted`, `cancelled` or `canceled`.
 * - a terminal event that carries a `usage` object emits `usage_update` before `turn_complete`.
 * - interactive events without a request id are dropped (nobody could answer them).
 * - empty text deltas, empty thinking, empty tool-argument fragments and empty terminal chunks are dropped.
 */
import type {
  ApprovalResolvedEvent,
  FileChangedEvent,
  PermissionRequestedEvent,
  Question,
  SessionState,
  TerminalStreamEvent,
  ToolResultEvent,
  TurnErrorCode,
  UnsequencedEvent,
  UsageUpdateEvent,
} from '@app/protocol';
import { TURN_ERROR_CODES } from '@app/protocol';
import { isControlType } from './podium.envelopes';
import { redactSecrets, sanitizeErrorMessage } from './sanitize';

export interface PodiumMapContext {
  sessionId: string;
  /** The gateway's active turn, used when the frame carries no `turn_id`. */
  turnId: string | null;
}

/** One mapped event, with the upstream name that produced it (`'fallback'` for the catch-all rule). */
export interface MappedEvent {
  event: UnsequencedEvent;
  source: string;
  /** Set on `turn_complete` when the upstream turn ended because it was stopped/interrupted. */
  stopped?: true;
}

type Content = Record<string, unknown>;

interface RowInput {
  sessionId: string;
  /** Resolved turn id (`''` when neither the frame nor the context has one). */
  turnId: string;
  /** The turn id only when one is known, for events where it is optional. */
  optionalTurnId: { turnId?: string };
  content: Content;
}

interface RowOutput {
  events: UnsequencedEvent[];
  stopped?: boolean;
}

type Row = (input: RowInput) => RowOutput | UnsequencedEvent[];

// ── small field readers ─────────────────────────────────────────────────────
function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
/** Ids may arrive as numbers; anything else becomes undefined. */
function id(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}
function bool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}
function firstDefined<T>(...values: (T | undefined)[]): T | undefined {
  return values.find((v) => v !== undefined);
}
/** Adds only the keys whose value is defined, so optional fields stay absent rather than `undefined`. */
function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}
function objectOrJson(value: unknown): Record<string, unknown> | undefined {
  if (isRecord(value)) return value;
  if (typeof value === 'string' && value.trim().startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (isRecord(parsed)) return parsed;
    } catch {
      /* not JSON: fall through */
    }
  }
  return undefined;
}

const ERROR_CODE_SHAPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,63}$/;
const STOP_WORDS = new Set(['stopped', 'interrupted', 'cancelled', 'canceled']);

function isStopped(c: Content): boolean {
  if (c.stopped === true || c.interrupted === true) return true;
  return [c.stop_reason, c.reason, c.status].some(
    (v) => typeof v === 'string' && STOP_WORDS.has(v.toLowerCase()),
  );
}

function usageEvent(sessionId: string, turnId: string, u: Content): UnsequencedEvent {
  const event: Omit<UsageUpdateEvent, 'seq' | 'ts'> = defined({
    type: 'usage_update' as const,
    sessionId,
    turnId,
    model: nonEmpty(u.model),
    inputTokens: num(u.input_tokens) ?? 0,
    outputTokens: num(u.output_tokens) ?? 0,
    cacheReadTokens: num(u.cache_read_tokens) ?? 0,
    cacheWriteTokens: num(u.cache_write_tokens) ?? 0,
    cost: firstDefined(num(u.cost_usd), num(u.cost)),
  });
  return event;
}

function questions(value: unknown): Question[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((q, index) =>
    defined({
      id: id(q.id) ?? String(index),
      question: str(q.question) ?? str(q.text) ?? '',
      options: Array.isArray(q.options)
        ? q.options.map((o) => (isRecord(o) ? (str(o.label) ?? str(o.value) ?? '') : String(o)))
        : undefined,
      multiSelect: firstDefined(bool(q.multi_select), bool(q.multiSelect)),
    }),
  );
}

function answers(value: unknown): ApprovalResolvedEvent['answers'] {
  if (typeof value === 'string') return value;
  if (!isRecord(value)) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string') out[key] = v;
    else if (Array.isArray(v)) out[key] = v.map(String);
  }
  return out;
}

function toolOutput(value: unknown): ToolResultEvent['output'] {
  if (typeof value === 'string') return value;
  if (isRecord(value)) return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value);
}

const CHANGE_TYPES: Record<string, FileChangedEvent['changeType']> = {
  created: 'created',
  create: 'created',
  added: 'created',
  modified: 'modified',
  modify: 'modified',
  updated: 'modified',
  changed: 'modified',
  deleted: 'deleted',
  delete: 'deleted',
  removed: 'deleted',
};

// ── row builders ────────────────────────────────────────────────────────────
const turnStarted: Row = ({ sessionId, turnId }) => [{ type: 'turn_started', sessionId, turnId }];

const textDelta: Row = ({ sessionId, turnId, content }) => {
  const text = nonEmpty(content.text) ?? nonEmpty(content.delta);
  return text ? [{ type: 'text_delta', sessionId, turnId, text }] : [];
};

const turnComplete: Row = ({ sessionId, turnId, content }) => {
  const events: UnsequencedEvent[] = [];
  if (isRecord(content.usage)) events.push(usageEvent(sessionId, turnId, content.usage));
  events.push({ type: 'turn_complete', sessionId, turnId, finalText: str(content.text) ?? '' });
  return { events, stopped: isStopped(content) };
};

/**
 * An upstream error code as a documented turn_error code: one of TURN_ERROR_CODES (in any case or
 * separator spelling), else `UPSTREAM_ERROR` with the agent's code (when well-formed) as `detail`.
 */
export function turnErrorCode(upstream: string | undefined): { code: TurnErrorCode; detail?: string } {
  if (!upstream || !ERROR_CODE_SHAPE.test(upstream)) return { code: 'UPSTREAM_ERROR' };
  const normal = upstream.replace(/[.:-]/g, '_').toUpperCase();
  const known = (TURN_ERROR_CODES as readonly string[]).includes(normal);
  return known ? { code: normal as TurnErrorCode } : { code: 'UPSTREAM_ERROR', detail: upstream };
}

const turnError: Row = ({ sessionId, turnId, content }) => {
  const raw =
    str(content.message) ??
    str(content.error) ??
    (isRecord(content.error) ? str(content.error.message) : undefined);
  return [
    {
      type: 'turn_error',
      sessionId,
      turnId,
      ...turnErrorCode(str(content.code)),
      message: sanitizeErrorMessage(raw ?? 'The agent reported an error') || 'The agent reported an error',
    },
  ];
};

const toolCallStart: Row = ({ sessionId, turnId, content }) => [
  {
    type: 'tool_call_start',
    sessionId,
    turnId,
    toolCallId: id(content.tool_call_id) ?? '',
    toolName: str(content.tool_name) ?? '',
  },
];

const toolCallDelta: Row = ({ sessionId, turnId, content }) => {
  const delta = nonEmpty(content.arguments_delta) ?? nonEmpty(content.delta);
  return delta
    ? [{ type: 'tool_call_delta', sessionId, turnId, toolCallId: id(content.tool_call_id) ?? '', delta }]
    : [];
};

const toolCall: Row = ({ sessionId, turnId, content }) => [
  {
    type: 'tool_call',
    sessionId,
    turnId,
    toolCallId: id(content.tool_call_id) ?? '',
    toolName: str(content.tool_name) ?? '',
    input: objectOrJson(content.arguments) ?? objectOrJson(content.input) ?? {},
  },
];

const toolResult: Row = ({ sessionId, turnId, content }) => {
  const event: Omit<ToolResultEvent, 'seq' | 'ts'> = defined({
    type: 'tool_result' as const,
    sessionId,
    turnId,
    toolCallId: id(content.tool_call_id) ?? '',
    toolName: nonEmpty(content.tool_name),
    output: toolOutput(content.output),
    isError: bool(content.is_error),
    durationMs: num(content.duration_ms),
  });
  return [event];
};

const toolError: Row = ({ sessionId, turnId, content }) => {
  const raw =
    str(content.error) ??
    (isRecord(content.error) ? str(content.error.message) : undefined) ??
    str(content.message);
  return [
    {
      type: 'tool_error',
      sessionId,
      turnId,
      toolCallId: id(content.tool_call_id) ?? '',
      error: redactSecrets(raw ?? ''),
    },
  ];
};

const questionRequested: Row = ({ sessionId, turnId, content }) => {
  const requestId = id(content.request_id) ?? id(content.question_id);
  if (!requestId) return [];
  return [
    { type: 'question_requested', sessionId, turnId, requestId, questions: questions(content.questions) },
  ];
};

const permissionRequested: Row = ({ sessionId, turnId, content }) => {
  const requestId = id(content.request_id);
  if (!requestId) return [];
  const event: Omit<PermissionRequestedEvent, 'seq' | 'ts'> = defined({
    type: 'permission_requested' as const,
    sessionId,
    turnId,
    requestId,
    toolName: str(content.tool_name) ?? '',
    description: str(content.description) ?? str(content.action) ?? '',
    input: objectOrJson(content.input),
  });
  return [event];
};

const approvalResolved: Row = ({ sessionId, turnId, content }) => {
  const requestId = id(content.request_id) ?? id(content.question_id);
  if (!requestId) return [];
  const event: Omit<ApprovalResolvedEvent, 'seq' | 'ts'> = defined({
    type: 'approval_resolved' as const,
    sessionId,
    turnId,
    requestId,
    approved: bool(content.approved),
    answers: answers(content.answers),
    dismissed: bool(content.dismissed),
  });
  return [event];
};

const thinkingStart: Row = ({ sessionId, turnId }) => [{ type: 'thinking.start', sessionId, turnId }];

const thinkingProgress: Row = ({ sessionId, turnId, content }) => {
  const text = nonEmpty(content.text) ?? nonEmpty(content.delta);
  return text ? [{ type: 'thinking.progress', sessionId, turnId, text }] : [];
};

const thinkingComplete: Row = ({ sessionId, turnId, content }) => {
  const text = nonEmpty(content.text);
  if (!text) return [];
  return [
    defined({
      type: 'thinking.complete' as const,
      sessionId,
      turnId,
      text,
      durationMs: num(content.duration_ms),
    }),
  ];
};

const terminalStream: Row = ({ sessionId, turnId, content }) => {
  const data = nonEmpty(content.data);
  if (!data) return [];
  const event: Omit<TerminalStreamEvent, 'seq' | 'ts'> = defined({
    type: 'terminal.stream' as const,
    sessionId,
    turnId,
    toolCallId: id(content.tool_call_id),
    command: str(content.command),
    stream: content.stream === 'stderr' ? ('stderr' as const) : ('stdout' as const),
    data,
  });
  return [event];
};

const terminalComplete: Row = ({ sessionId, turnId, content }) => {
  const exitCode = num(content.exit_code);
  return [
    defined({
      type: 'terminal.complete' as const,
      sessionId,
      turnId,
      toolCallId: id(content.tool_call_id),
      command: str(content.command),
      // Unknown exit status is reported as -1 rather than a misleading success.
      exitCode: exitCode !== undefined && Number.isInteger(exitCode) ? exitCode : -1,
      output: str(content.output),
    }),
  ];
};

const sandboxInit: Row = ({ sessionId, optionalTurnId, content }) => [
  defined({
    type: 'sandbox_init' as const,
    sessionId,
    ...optionalTurnId,
    provider: nonEmpty(content.provider),
    sandboxId: id(content.sandbox_id),
  }),
];

const sandboxProvisioning: Row = ({ sessionId, optionalTurnId, content }) => [
  defined({
    type: 'sandbox_provisioning' as const,
    sessionId,
    ...optionalTurnId,
    phase: nonEmpty(content.phase),
    message:
      nonEmpty(content.message) !== undefined ? sanitizeErrorMessage(str(content.message) ?? '') : undefined,
    sandboxId: id(content.sandbox_id),
  }),
];

const sandboxReady: Row = ({ sessionId, optionalTurnId, content }) => [
  defined({
    type: 'sandbox_ready' as const,
    sessionId,
    ...optionalTurnId,
    sandboxId: id(content.sandbox_id),
  }),
];

const sandboxRemoved: Row = ({ sessionId, optionalTurnId, content }) => [
  defined({
    type: 'sandbox_removed' as const,
    sessionId,
    ...optionalTurnId,
    reason: nonEmpty(content.reason),
    sandboxId: id(content.sandbox_id),
  }),
];

const usageUpdate: Row = ({ sessionId, turnId, content }) => [
  usageEvent(sessionId, turnId, isRecord(content.usage) ? content.usage : content),
];

const fileChanged: Row = ({ sessionId, optionalTurnId, content }) => {
  const path = nonEmpty(content.path);
  if (!path) return [];
  const changeType = CHANGE_TYPES[(str(content.change_type) ?? '').toLowerCase()] ?? 'modified';
  const iteration = num(content.iteration);
  return [
    defined({ type: 'file_changed' as const, sessionId, ...optionalTurnId, path, changeType, iteration }),
  ];
};

/** The mapping table. Keys are upstream names; values build the gateway events. */
export const PODIUM_EVENT_TABLE: Readonly<Record<string, Row>> = {
  created: turnStarted,
  stream_start: turnStarted,
  update: textDelta,
  stream_update: textDelta,
  complete: turnComplete,
  stream_end: turnComplete,
  stream_complete: turnComplete,
  error: turnError,
  'tool.call_start': toolCallStart,
  'tool.call_delta': toolCallDelta,
  'tool.call': toolCall,
  'tool.result': toolResult,
  'tool.error': toolError,
  'tool.question_requested': questionRequested,
  'tool.permission_requested': permissionRequested,
  'tool.approval_resolved': approvalResolved,
  'thinking.start': thinkingStart,
  'thinking.progress': thinkingProgress,
  thinking_update: thinkingProgress,
  'thinking.complete': thinkingComplete,
  'terminal.stream': terminalStream,
  'terminal.complete': terminalComplete,
  'sandbox.init': sandboxInit,
  'sandbox.provisioning': sandboxProvisioning,
  'sandbox.ready': sandboxReady,
  'sandbox.removed': sandboxRemoved,
  usage: usageUpdate,
  token_usage: usageUpdate,
  'file.changed': fileChanged,
  file_change: fileChanged,
};

/** The table key that selects the row for `frame`, or `undefined` (see the module comment for the order). */
export function podiumEventName(frame: Record<string, unknown>): string | undefined {
  return nameCandidates(frame).find((c) => Object.hasOwn(PODIUM_EVENT_TABLE, c));
}

function nameCandidates(frame: Record<string, unknown>): string[] {
  const content = isRecord(frame.content) ? frame.content : {};
  const candidates = [
    content.event_type,
    frame.event_type,
    frame.messageType,
    isControlType(frame.type) ? undefined : frame.type,
  ];
  return candidates.filter((c): c is string => typeof c === 'string');
}

/** Whether the core table maps this upstream name (an extension may not replace a core row). */
export function isPodiumEventName(name: string): boolean {
  return Object.hasOwn(PODIUM_EVENT_TABLE, name);
}

/**
 * A row contributed by an extension (docs/extending.md) for an upstream name the core table does not
 * have: the frame's `content` → 0…n events. Consulted only when no core row matches; a rule that
 * throws maps the frame to nothing.
 */
export type UpstreamEventRule = (
  content: Record<string, unknown>,
  ctx: PodiumMapContext,
) => UnsequencedEvent[];

/** Maps one upstream frame to gateway events (0, 1 or many). Never throws. */
export function mapPodiumEvent(
  ctx: PodiumMapContext,
  frame: unknown,
  extraRules?: ReadonlyMap<string, UpstreamEventRule>,
): MappedEvent[] {
  if (!isRecord(frame)) return [];
  const content: Content = isRecord(frame.content) ? frame.content : {};
  const frameTurnId = nonEmpty(content.turn_id);
  const knownTurnId = frameTurnId ?? (ctx.turnId || undefined);
  const input: RowInput = {
    sessionId: ctx.sessionId,
    turnId: knownTurnId ?? '',
    optionalTurnId: knownTurnId ? { turnId: knownTurnId } : {},
    content,
  };

  const name = podiumEventName(frame);
  if (name !== undefined) {
    const out = PODIUM_EVENT_TABLE[name](input);
    const { events, stopped } = Array.isArray(out) ? { events: out, stopped: false } : out;
    return events.map((event) =>
      stopped && event.type === 'turn_complete'
        ? { event, source: name, stopped: true }
        : { event, source: name },
    );
  }

  if (extraRules !== undefined && extraRules.size > 0) {
    const extra = nameCandidates(frame).find((c) => extraRules.has(c));
    if (extra !== undefined) {
      try {
        return extraRules.get(extra)!(content, ctx).map((event) => ({ event, source: extra }));
      } catch {
        return [];
      }
    }
  }

  // Fallback: unknown names with text become a text delta; echoes of our own envelopes never do.
  if (isControlType(frame.type)) return [];
  const text = nonEmpty(content.text) ?? nonEmpty(content.delta);
  if (!text) return [];
  return [
    {
      event: { type: 'text_delta', sessionId: input.sessionId, turnId: input.turnId, text },
      source: 'fallback',
    },
  ];
}

export type AgentStatusState = Extract<SessionState, 'running' | 'ready' | 'waiting' | 'error' | 'inactive'>;

const AGENT_STATUS: Readonly<Record<string, AgentStatusState>> = {
  busy: 'running',
  running: 'running',
  working: 'running',
  idle: 'ready',
  ready: 'ready',
  waiting: 'waiting',
  awaiting_input: 'waiting',
  error: 'error',
  failed: 'error',
  stopped: 'inactive',
  terminated: 'inactive',
};

/**
 * Agent-reported status → session state; `null` for unknown values, which the
 * caller ignores. `inactive` is reached through `deactivating` by the caller.
 */
export function mapAgentStatus(status: string): AgentStatusState | null {
  if (typeof status !== 'string') return null;
  return Object.hasOwn(AGENT_STATUS, status.trim().toLowerCase())
    ? AGENT_STATUS[status.trim().toLowerCase()]
    : null;
}
