import type {
  PermissionRequestedEvent,
  QuestionRequestedEvent,
  SessionEvent,
  SessionMeta,
  SessionState,
  StateSnapshotEvent,
} from './wire';

export interface ViewMessage {
  kind: 'message';
  key: string;
  role: 'user' | 'assistant';
  text: string;
  turnId?: string;
  /** A steering message sent during a turn. */
  steer?: boolean;
  /** The assistant's text is still streaming. */
  streaming?: boolean;
}
export interface ViewThinking {
  kind: 'thinking';
  key: string;
  turnId: string;
  text: string;
  done: boolean;
  durationMs?: number;
}
export interface ViewToolCall {
  kind: 'tool';
  key: string;
  turnId: string;
  toolCallId: string;
  toolName: string;
  /** The input as streamed (JSON text) until the full `input` arrives. */
  inputText: string;
  input?: Record<string, unknown>;
  output?: unknown;
  error?: string;
  status: 'running' | 'done' | 'error';
}
export interface ViewTerminal {
  kind: 'terminal';
  key: string;
  turnId: string;
  toolCallId?: string;
  command?: string;
  output: string;
  exitCode?: number;
}
export interface ViewFileChange {
  kind: 'file';
  key: string;
  turnId?: string;
  path: string;
  changeType: 'created' | 'modified' | 'deleted';
  iteration?: number;
}
export interface ViewRequest {
  kind: 'request';
  key: string;
  turnId: string;
  request: QuestionRequestedEvent | PermissionRequestedEvent;
  resolution?: { approved?: boolean; answers?: unknown; dismissed?: boolean; resolvedBy?: string };
}
export type ViewItem =
  ViewMessage | ViewThinking | ViewToolCall | ViewTerminal | ViewFileChange | ViewRequest;

export interface ViewTurn {
  turnId: string;
  status: 'running' | 'complete' | 'stopped' | 'error';
  error?: { code: string; message: string };
}

export interface ViewUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  /** Credits charged (micro-credits), summed over turns. */
  credits: number;
  turns: number;
  model?: string;
}

/** What a UI shows of one session. Immutable: every change produces a new object. */
export interface SessionViewState {
  sessionId: string;
  session?: SessionMeta;
  status: SessionState | 'unknown';
  /** The latest turn. */
  turn: ViewTurn | null;
  /** Everything in arrival order: messages, thinking, tool calls, terminal output, file changes, requests. */
  items: ViewItem[];
  /** The question or permission waiting for an answer. */
  pending: QuestionRequestedEvent | PermissionRequestedEvent | null;
  /** The latest change per path. */
  files: ViewFileChange[];
  usage: ViewUsage;
  sandbox?: string;
  /** The `seq` of the last event folded in. */
  lastSeq: number;
}

const EMPTY_USAGE: ViewUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  credits: 0,
  turns: 0,
};

/**
 * Folds a session's events into what a UI shows. Framework-agnostic: `subscribe` / `getSnapshot`
 * plug into React's `useSyncExternalStore` as they are.
 */
export class SessionView {
  private state: SessionViewState;
  private readonly listeners = new Set<() => void>();
  /** `text_delta`s at or below this `seq` are already in the snapshot's text of the active turn. */
  private textFloor = 0;
  private openThinking = new Map<string, string>();

  constructor(sessionId: string) {
    this.state = {
      sessionId,
      status: 'unknown',
      turn: null,
      items: [],
      pending: null,
      files: [],
      usage: EMPTY_USAGE,
      lastSeq: 0,
    };
  }

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  readonly getSnapshot = (): SessionViewState => this.state;

  /** A (re-)join's snapshot: session, status, the active turn's text so far, the pending request. */
  applySnapshot(snapshot: StateSnapshotEvent): void {
    const s = { ...this.state, session: snapshot.session, status: snapshot.session.status };
    let items = s.items;
    const active = snapshot.activeTurn;
    if (active) {
      // Deltas lost in a drop are in the server's text; later deltas are appended to it.
      this.textFloor = snapshot.lastSeq;
      s.turn = { turnId: active.turnId, status: 'running' };
      const key = `a:${active.turnId}`;
      if (active.text || items.some((i) => i.key === key)) {
        items = upsert(items, key, () => ({
          kind: 'message',
          key,
          role: 'assistant',
          turnId: active.turnId,
          text: active.text,
          streaming: true,
        }));
      }
    }
    s.items = items;
    s.pending = snapshot.pendingRequest ?? null;
    this.commit(s);
  }

  /** Folds one event (delivered exactly once, in order, by the SDK). */
  apply(event: SessionEvent): void {
    const s: SessionViewState = { ...this.state, lastSeq: Math.max(this.state.lastSeq, event.seq) };
    const turnId = 'turnId' in event ? (event.turnId as string | undefined) : undefined;
    switch (event.type) {
      case 'session_state':
        s.status = event.state;
        if (s.session) s.session = { ...s.session, status: event.state };
        break;
      case 'user_message':
        s.items = upsert(s.items, `u:${event.turnId}`, () => ({
          kind: 'message',
          key: `u:${event.turnId}`,
          role: 'user',
          text: event.text,
          turnId: event.turnId,
        }));
        break;
      case 'steer_sent':
        s.items = upsert(s.items, `s:${event.seq}`, () => ({
          kind: 'message',
          key: `s:${event.seq}`,
          role: 'user',
          text: event.text,
          turnId: event.turnId,
          steer: true,
        }));
        break;
      case 'turn_started':
        s.turn = { turnId: event.turnId, status: 'running' };
        break;
      case 'text_delta':
        if (event.seq <= this.textFloor) return;
        s.items = upsert(s.items, `a:${event.turnId}`, (m) => ({
          kind: 'message',
          key: `a:${event.turnId}`,
          role: 'assistant',
          turnId: event.turnId,
          text: ((m as ViewMessage | undefined)?.text ?? '') + event.text,
          streaming: true,
        }));
        break;
      case 'turn_complete':
        s.items = upsert(s.items, `a:${event.turnId}`, () => ({
          kind: 'message',
          key: `a:${event.turnId}`,
          role: 'assistant',
          turnId: event.turnId,
          text: event.finalText,
          streaming: false,
        }));
        s.turn = { turnId: event.turnId, status: 'complete' };
        s.pending = null;
        break;
      case 'turn_stopped':
      case 'turn_error':
        s.items = s.items.map((i) =>
          i.kind === 'message' && i.key === `a:${event.turnId}` ? { ...i, streaming: false } : i,
        );
        s.turn =
          event.type === 'turn_error'
            ? { turnId: event.turnId, status: 'error', error: { code: event.code, message: event.message } }
            : { turnId: event.turnId, status: 'stopped' };
        s.pending = null;
        break;
      case 'thinking.start': {
        const key = `t:${event.seq}`;
        this.openThinking.set(event.turnId, key);
        s.items = [...s.items, { kind: 'thinking', key, turnId: event.turnId, text: '', done: false }];
        break;
      }
      case 'thinking.progress': {
        const key = this.openThinking.get(event.turnId) ?? `t:${event.seq}`;
        this.openThinking.set(event.turnId, key);
        s.items = upsert(s.items, key, (t) => ({
          kind: 'thinking',
          key,
          turnId: event.turnId,
          text: ((t as ViewThinking | undefined)?.text ?? '') + event.text,
          done: false,
        }));
        break;
      }
      case 'thinking.complete': {
        const key = this.openThinking.get(event.turnId) ?? `t:${event.seq}`;
        this.openThinking.delete(event.turnId);
        s.items = upsert(s.items, key, () => ({
          kind: 'thinking',
          key,
          turnId: event.turnId,
          text: event.text,
          done: true,
          durationMs: event.durationMs,
        }));
        break;
      }
      case 'tool_call_start':
      case 'tool_call_delta':
      case 'tool_call':
      case 'tool_result':
      case 'tool_error': {
        const key = `tool:${event.toolCallId}`;
        s.items = upsert(s.items, key, (found) => {
          const t: ViewToolCall = (found as ViewToolCall | undefined) ?? {
            kind: 'tool',
            key,
            turnId: event.turnId,
            toolCallId: event.toolCallId,
            toolName: 'toolName' in event && event.toolName ? event.toolName : 'tool',
            inputText: '',
            status: 'running',
          };
          switch (event.type) {
            case 'tool_call_delta':
              return { ...t, inputText: t.inputText + event.delta };
            case 'tool_call':
              return {
                ...t,
                toolName: event.toolName,
                input: event.input,
                inputText: JSON.stringify(event.input),
              };
            case 'tool_result':
              return { ...t, output: event.output, status: event.isError ? 'error' : 'done' };
            case 'tool_error':
              return { ...t, error: event.error, status: 'error' };
            default:
              return t;
          }
        });
        break;
      }
      case 'terminal.stream':
      case 'terminal.complete': {
        const key = `term:${event.toolCallId ?? event.turnId}`;
        s.items = upsert(s.items, key, (found) => {
          const t: ViewTerminal = (found as ViewTerminal | undefined) ?? {
            kind: 'terminal',
            key,
            turnId: event.turnId,
            toolCallId: event.toolCallId,
            command: event.command,
            output: '',
          };
          return event.type === 'terminal.stream'
            ? { ...t, output: t.output + event.data }
            : { ...t, output: event.output ?? t.output, exitCode: event.exitCode };
        });
        break;
      }
      case 'question_requested':
      case 'permission_requested':
        s.pending = event;
        s.items = upsert(s.items, `req:${event.requestId}`, () => ({
          kind: 'request',
          key: `req:${event.requestId}`,
          turnId: event.turnId,
          request: event,
        }));
        break;
      case 'approval_resolved':
        if (s.pending?.requestId === event.requestId) s.pending = null;
        s.items = s.items.map((i) =>
          i.kind === 'request' && i.request.requestId === event.requestId
            ? {
                ...i,
                resolution: {
                  approved: event.approved,
                  answers: event.answers,
                  dismissed: event.dismissed,
                  resolvedBy: event.resolvedBy,
                },
              }
            : i,
        );
        break;
      case 'file_changed': {
        const change: ViewFileChange = {
          kind: 'file',
          key: `file:${event.seq}`,
          turnId,
          path: event.path,
          changeType: event.changeType,
          iteration: event.iteration,
        };
        s.items = [...s.items, change];
        s.files = [...s.files.filter((f) => f.path !== event.path), change];
        break;
      }
      case 'usage_update':
        s.usage = {
          inputTokens: s.usage.inputTokens + event.inputTokens,
          outputTokens: s.usage.outputTokens + event.outputTokens,
          cacheReadTokens: s.usage.cacheReadTokens + (event.cacheReadTokens ?? 0),
          cacheWriteTokens: s.usage.cacheWriteTokens + (event.cacheWriteTokens ?? 0),
          credits: s.usage.credits + (event.credits ?? event.cost ?? 0),
          turns: s.usage.turns + 1,
          model: event.model ?? s.usage.model,
        };
        break;
      case 'sandbox_init':
      case 'sandbox_provisioning':
      case 'sandbox_ready':
      case 'sandbox_removed':
        s.sandbox = event.type.slice('sandbox_'.length);
        break;
    }
    this.commit(s);
  }

  private commit(state: SessionViewState): void {
    this.state = state;
    for (const listener of [...this.listeners]) listener();
  }
}

/** Replaces the item with `key` (in place) or appends a new one. */
function upsert(items: ViewItem[], key: string, make: (found: ViewItem | undefined) => ViewItem): ViewItem[] {
  const i = items.findIndex((item) => item.key === key);
  if (i < 0) return [...items, make(undefined)];
  const next = items.slice();
  next[i] = make(items[i]);
  return next;
}
