import { mapAgentStatus, mapPodiumEvent, PODIUM_EVENT_TABLE, type MappedEvent } from './podium-event.mapper';
import { sanitizeErrorMessage } from './sanitize';

const ctx = { sessionId: 's-1', turnId: 't-ctx' };

/** Maps the same content through both selectors: `messageType` and `content.event_type`. */
function bothPaths(name: string, content: Record<string, unknown>): [MappedEvent[], MappedEvent[]] {
  const viaMessageType = mapPodiumEvent(ctx, { messageType: name, content });
  const viaEventType = mapPodiumEvent(ctx, {
    messageType: 'something_else',
    content: { event_type: name, ...content },
  });
  return [viaMessageType, viaEventType];
}

function events(mapped: MappedEvent[]) {
  return mapped.map((m) => m.event);
}

interface Row {
  name: string;
  content: Record<string, unknown>;
  expected: Record<string, unknown>[];
}

const rows: Row[] = [
  { name: 'created', content: {}, expected: [{ type: 'turn_started', sessionId: 's-1', turnId: 't-ctx' }] },
  {
    name: 'stream_start',
    content: {},
    expected: [{ type: 'turn_started', sessionId: 's-1', turnId: 't-ctx' }],
  },
  {
    name: 'update',
    content: { text: 'Hel' },
    expected: [{ type: 'text_delta', sessionId: 's-1', turnId: 't-ctx', text: 'Hel' }],
  },
  {
    name: 'stream_update',
    content: { text: 'lo' },
    expected: [{ type: 'text_delta', sessionId: 's-1', turnId: 't-ctx', text: 'lo' }],
  },
  {
    name: 'complete',
    content: { text: 'Hello' },
    expected: [{ type: 'turn_complete', sessionId: 's-1', turnId: 't-ctx', finalText: 'Hello' }],
  },
  {
    name: 'stream_end',
    content: {},
    expected: [{ type: 'turn_complete', sessionId: 's-1', turnId: 't-ctx', finalText: '' }],
  },
  {
    name: 'stream_complete',
    content: { text: 'done' },
    expected: [{ type: 'turn_complete', sessionId: 's-1', turnId: 't-ctx', finalText: 'done' }],
  },
  {
    name: 'error',
    content: { message: 'model overloaded', code: 'OVERLOADED' },
    expected: [
      {
        type: 'turn_error',
        sessionId: 's-1',
        turnId: 't-ctx',
        code: 'UPSTREAM_ERROR',
        detail: 'OVERLOADED',
        message: 'model overloaded',
      },
    ],
  },
  {
    name: 'tool.call_start',
    content: { tool_call_id: 'tc-1', tool_name: 'bash' },
    expected: [
      { type: 'tool_call_start', sessionId: 's-1', turnId: 't-ctx', toolCallId: 'tc-1', toolName: 'bash' },
    ],
  },
  {
    name: 'tool.call_delta',
    content: { tool_call_id: 'tc-1', arguments_delta: '{"cmd":' },
    expected: [
      { type: 'tool_call_delta', sessionId: 's-1', turnId: 't-ctx', toolCallId: 'tc-1', delta: '{"cmd":' },
    ],
  },
  {
    name: 'tool.call',
    content: { tool_call_id: 'tc-1', tool_name: 'bash', arguments: { cmd: 'ls' } },
    expected: [
      {
        type: 'tool_call',
        sessionId: 's-1',
        turnId: 't-ctx',
        toolCallId: 'tc-1',
        toolName: 'bash',
        input: { cmd: 'ls' },
      },
    ],
  },
  {
    name: 'tool.result',
    content: { tool_call_id: 'tc-1', tool_name: 'bash', output: 'a.txt', is_error: false, duration_ms: 12 },
    expected: [
      {
        type: 'tool_result',
        sessionId: 's-1',
        turnId: 't-ctx',
        toolCallId: 'tc-1',
        toolName: 'bash',
        output: 'a.txt',
        isError: false,
        durationMs: 12,
      },
    ],
  },
  {
    name: 'tool.error',
    content: { tool_call_id: 'tc-1', error: 'command not found' },
    expected: [
      {
        type: 'tool_error',
        sessionId: 's-1',
        turnId: 't-ctx',
        toolCallId: 'tc-1',
        error: 'command not found',
      },
    ],
  },
  {
    name: 'tool.question_requested',
    content: {
      request_id: 'q-1',
      questions: [{ id: 'color', question: 'Which colour?', options: ['red', 'blue'], multi_select: true }],
    },
    expected: [
      {
        type: 'question_requested',
        sessionId: 's-1',
        turnId: 't-ctx',
        requestId: 'q-1',
        questions: [{ id: 'color', question: 'Which colour?', options: ['red', 'blue'], multiSelect: true }],
      },
    ],
  },
  {
    name: 'tool.permission_requested',
    content: {
      request_id: 'p-1',
      tool_name: 'bash',
      description: 'Run rm -rf build',
      input: { cmd: 'rm -rf build' },
    },
    expected: [
      {
        type: 'permission_requested',
        sessionId: 's-1',
        turnId: 't-ctx',
        requestId: 'p-1',
        toolName: 'bash',
        description: 'Run rm -rf build',
        input: { cmd: 'rm -rf build' },
      },
    ],
  },
  {
    name: 'tool.approval_resolved',
    content: { request_id: 'p-1', approved: true },
    expected: [
      { type: 'approval_resolved', sessionId: 's-1', turnId: 't-ctx', requestId: 'p-1', approved: true },
    ],
  },
  {
    name: 'thinking.start',
    content: {},
    expected: [{ type: 'thinking.start', sessionId: 's-1', turnId: 't-ctx' }],
  },
  {
    name: 'thinking.progress',
    content: { text: 'hmm' },
    expected: [{ type: 'thinking.progress', sessionId: 's-1', turnId: 't-ctx', text: 'hmm' }],
  },
  {
    name: 'thinking_update',
    content: { text: 'hmm' },
    expected: [{ type: 'thinking.progress', sessionId: 's-1', turnId: 't-ctx', text: 'hmm' }],
  },
  {
    name: 'thinking.complete',
    content: { text: 'I should list files', duration_ms: 40 },
    expected: [
      {
        type: 'thinking.complete',
        sessionId: 's-1',
        turnId: 't-ctx',
        text: 'I should list files',
        durationMs: 40,
      },
    ],
  },
  {
    name: 'terminal.stream',
    content: { tool_call_id: 'tc-1', command: 'ls', stream: 'stderr', data: 'oops\n' },
    expected: [
      {
        type: 'terminal.stream',
        sessionId: 's-1',
        turnId: 't-ctx',
        toolCallId: 'tc-1',
        command: 'ls',
        stream: 'stderr',
        data: 'oops\n',
      },
    ],
  },
  {
    name: 'terminal.complete',
    content: { tool_call_id: 'tc-1', command: 'ls', exit_code: 2 },
    expected: [
      {
        type: 'terminal.complete',
        sessionId: 's-1',
        turnId: 't-ctx',
        toolCallId: 'tc-1',
        command: 'ls',
        exitCode: 2,
      },
    ],
  },
  {
    name: 'sandbox.init',
    content: { provider: 'docker' },
    expected: [{ type: 'sandbox_init', sessionId: 's-1', turnId: 't-ctx', provider: 'docker' }],
  },
  {
    name: 'sandbox.provisioning',
    content: { phase: 'installing_deps', message: 'npm install' },
    expected: [
      {
        type: 'sandbox_provisioning',
        sessionId: 's-1',
        turnId: 't-ctx',
        phase: 'installing_deps',
        message: 'npm install',
      },
    ],
  },
  {
    name: 'sandbox.ready',
    content: { sandbox_id: 'sb-1' },
    expected: [{ type: 'sandbox_ready', sessionId: 's-1', turnId: 't-ctx', sandboxId: 'sb-1' }],
  },
  {
    name: 'sandbox.removed',
    content: { reason: 'turn completed' },
    expected: [{ type: 'sandbox_removed', sessionId: 's-1', turnId: 't-ctx', reason: 'turn completed' }],
  },
  {
    name: 'usage',
    content: {
      model: 'claude',
      input_tokens: 10,
      output_tokens: 20,
      cache_read_tokens: 3,
      cache_write_tokens: 4,
    },
    expected: [
      {
        type: 'usage_update',
        sessionId: 's-1',
        turnId: 't-ctx',
        model: 'claude',
        inputTokens: 10,
        outputTokens: 20,
        cacheReadTokens: 3,
        cacheWriteTokens: 4,
      },
    ],
  },
  {
    name: 'token_usage',
    content: { input_tokens: 1, output_tokens: 2 },
    expected: [
      {
        type: 'usage_update',
        sessionId: 's-1',
        turnId: 't-ctx',
        inputTokens: 1,
        outputTokens: 2,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
      },
    ],
  },
  {
    name: 'file.changed',
    content: { path: 'src/a.ts', change_type: 'created', iteration: 3 },
    expected: [
      {
        type: 'file_changed',
        sessionId: 's-1',
        turnId: 't-ctx',
        path: 'src/a.ts',
        changeType: 'created',
        iteration: 3,
      },
    ],
  },
  {
    name: 'file_change',
    content: { path: 'src/a.ts', change_type: 'deleted' },
    expected: [
      { type: 'file_changed', sessionId: 's-1', turnId: 't-ctx', path: 'src/a.ts', changeType: 'deleted' },
    ],
  },
];

describe('mapPodiumEvent — table rows', () => {
  it('covers every key of the table', () => {
    expect(new Set(rows.map((r) => r.name))).toEqual(new Set(Object.keys(PODIUM_EVENT_TABLE)));
  });

  it.each(rows)('$name (messageType and content.event_type)', ({ name, content, expected }) => {
    const [viaMessageType, viaEventType] = bothPaths(name, content);
    expect(events(viaMessageType)).toEqual(expected);
    expect(events(viaEventType)).toEqual(expected);
    expect(viaMessageType.every((m) => m.source === name)).toBe(true);
    expect(viaEventType.every((m) => m.source === name)).toBe(true);
  });
});

describe('mapPodiumEvent — matching', () => {
  it('accepts the later-revision shape {type, event_type, content}', () => {
    const out = mapPodiumEvent(ctx, {
      type: 'update',
      event_type: 'tool.call_start',
      content: { tool_call_id: 'x' },
    });
    expect(events(out)).toEqual([
      { type: 'tool_call_start', sessionId: 's-1', turnId: 't-ctx', toolCallId: 'x', toolName: '' },
    ]);
  });

  it('matches on a plain `type` when it is not a control type', () => {
    expect(events(mapPodiumEvent(ctx, { type: 'stream_update', content: { text: 'x' } }))).toEqual([
      { type: 'text_delta', sessionId: 's-1', turnId: 't-ctx', text: 'x' },
    ]);
  });

  it('never maps an echo of our own control envelopes, not even through the fallback', () => {
    expect(mapPodiumEvent(ctx, { type: 'process_message', content: { text: 'hi', turn_id: 't' } })).toEqual(
      [],
    );
    expect(mapPodiumEvent(ctx, { type: 'steer', content: { text: 'hi' } })).toEqual([]);
  });

  it('prefers content.event_type over messageType', () => {
    const out = mapPodiumEvent(ctx, {
      messageType: 'update',
      content: { event_type: 'thinking.progress', text: 'hm' },
    });
    expect(events(out)).toEqual([
      { type: 'thinking.progress', sessionId: 's-1', turnId: 't-ctx', text: 'hm' },
    ]);
  });

  it('ignores non-object frames and does not throw on odd content', () => {
    expect(mapPodiumEvent(ctx, null)).toEqual([]);
    expect(mapPodiumEvent(ctx, 'update')).toEqual([]);
    expect(mapPodiumEvent(ctx, [1, 2])).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: 'update', content: 'text' })).toEqual([]);
    expect(
      mapPodiumEvent(ctx, { messageType: 'tool.call', content: { arguments: 'not json' } })[0].event,
    ).toMatchObject({
      input: {},
      toolCallId: '',
    });
  });

  it('does not match inherited property names', () => {
    expect(mapPodiumEvent(ctx, { messageType: 'toString', content: {} })).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: '__proto__', content: {} })).toEqual([]);
  });
});

describe('mapPodiumEvent — filtering and fallback', () => {
  it.each(['update', 'stream_update'])('drops an empty %s', (name) => {
    expect(mapPodiumEvent(ctx, { messageType: name, content: { text: '' } })).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: name, content: {} })).toEqual([]);
  });

  it.each(['thinking.progress', 'thinking_update', 'thinking.complete'])(
    'drops empty thinking (%s)',
    (name) => {
      expect(mapPodiumEvent(ctx, { messageType: name, content: { text: '' } })).toEqual([]);
      expect(mapPodiumEvent(ctx, { messageType: name, content: { event_type: name } })).toEqual([]);
    },
  );

  it('drops empty tool-argument fragments and terminal chunks', () => {
    expect(mapPodiumEvent(ctx, { messageType: 'tool.call_delta', content: { arguments_delta: '' } })).toEqual(
      [],
    );
    expect(mapPodiumEvent(ctx, { messageType: 'terminal.stream', content: { data: '' } })).toEqual([]);
  });

  it('drops interactive events without a request id and file events without a path', () => {
    expect(
      mapPodiumEvent(ctx, { messageType: 'tool.question_requested', content: { questions: [] } }),
    ).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: 'tool.permission_requested', content: {} })).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: 'file.changed', content: {} })).toEqual([]);
  });

  it('maps an unknown name with text, or with delta, to text_delta', () => {
    expect(mapPodiumEvent(ctx, { messageType: 'assistant.chunk', content: { text: 'abc' } })).toEqual([
      { event: { type: 'text_delta', sessionId: 's-1', turnId: 't-ctx', text: 'abc' }, source: 'fallback' },
    ]);
    expect(events(mapPodiumEvent(ctx, { messageType: 'x', content: { delta: 'd' } }))).toEqual([
      { type: 'text_delta', sessionId: 's-1', turnId: 't-ctx', text: 'd' },
    ]);
  });

  it('drops an unknown name without text', () => {
    expect(mapPodiumEvent(ctx, { messageType: 'heartbeat', content: {} })).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: 'x', content: { text: '' } })).toEqual([]);
    expect(mapPodiumEvent(ctx, { messageType: 'x', content: { text: 42 } })).toEqual([]);
  });
});

describe('mapPodiumEvent — turn id', () => {
  it('takes content.turn_id over the context', () => {
    const out = mapPodiumEvent(ctx, { messageType: 'update', content: { text: 'a', turn_id: 't-frame' } });
    expect(out[0].event).toMatchObject({ turnId: 't-frame' });
  });

  it('falls back to the context turn id', () => {
    expect(mapPodiumEvent(ctx, { messageType: 'created', content: { turn_id: '' } })[0].event).toMatchObject({
      turnId: 't-ctx',
    });
  });

  it("uses '' when neither has one, for events that require a turn id", () => {
    const noTurn = { sessionId: 's-1', turnId: null };
    expect(mapPodiumEvent(noTurn, { messageType: 'update', content: { text: 'a' } })[0].event).toEqual({
      type: 'text_delta',
      sessionId: 's-1',
      turnId: '',
      text: 'a',
    });
  });

  it('omits the turn id on sandbox and file events when none is known', () => {
    const noTurn = { sessionId: 's-1', turnId: null };
    expect(mapPodiumEvent(noTurn, { messageType: 'sandbox.ready', content: {} })[0].event).toEqual({
      type: 'sandbox_ready',
      sessionId: 's-1',
    });
    expect(
      mapPodiumEvent(noTurn, { messageType: 'file.changed', content: { path: 'a', change_type: 'weird' } })[0]
        .event,
    ).toEqual({
      type: 'file_changed',
      sessionId: 's-1',
      path: 'a',
      changeType: 'modified',
    });
  });
});

describe('mapPodiumEvent — turn end details', () => {
  it('flags a stopped turn on turn_complete', () => {
    for (const content of [
      { stopped: true },
      { stop_reason: 'interrupted' },
      { reason: 'cancelled' },
      { status: 'stopped' },
    ]) {
      const out = mapPodiumEvent(ctx, { messageType: 'stream_end', content });
      expect(out).toEqual([
        {
          event: { type: 'turn_complete', sessionId: 's-1', turnId: 't-ctx', finalText: '' },
          source: 'stream_end',
          stopped: true,
        },
      ]);
    }
    expect(
      mapPodiumEvent(ctx, { messageType: 'complete', content: { text: 'x', status: 'completed' } })[0]
        .stopped,
    ).toBeUndefined();
  });

  it('emits usage_update before turn_complete when the completion carries usage', () => {
    const out = mapPodiumEvent(ctx, {
      messageType: 'complete',
      content: { text: 'ok', usage: { model: 'm', input_tokens: 5, output_tokens: 6, cost_usd: 0.01 } },
    });
    expect(events(out)).toEqual([
      {
        type: 'usage_update',
        sessionId: 's-1',
        turnId: 't-ctx',
        model: 'm',
        inputTokens: 5,
        outputTokens: 6,
        cacheReadTokens: 0,
        cacheWriteTokens: 0,
        cost: 0.01,
      },
      { type: 'turn_complete', sessionId: 's-1', turnId: 't-ctx', finalText: 'ok' },
    ]);
  });

  it('keeps documented codes in any spelling and turns every other code into UPSTREAM_ERROR with detail', () => {
    const codeOf = (code: string) =>
      mapPodiumEvent(ctx, { messageType: 'error', content: { code, message: 'x' } })[0].event;
    expect(codeOf('agent_unavailable')).toMatchObject({ code: 'AGENT_UNAVAILABLE' });
    expect(codeOf('upstream.stalled')).not.toHaveProperty('detail');
    expect(codeOf('upstream.stalled')).toMatchObject({ code: 'UPSTREAM_STALLED' });
    expect(codeOf('rateLimit')).toMatchObject({ code: 'UPSTREAM_ERROR', detail: 'rateLimit' });
    expect(codeOf('SESSION_NOT_FOUND')).toMatchObject({
      code: 'UPSTREAM_ERROR',
      detail: 'SESSION_NOT_FOUND',
    });
  });

  it('defaults the error code and rejects code values that are not code-shaped', () => {
    expect(
      mapPodiumEvent(ctx, { messageType: 'error', content: { message: 'boom' } })[0].event,
    ).toMatchObject({
      code: 'UPSTREAM_ERROR',
      message: 'boom',
    });
    expect(
      mapPodiumEvent(ctx, {
        messageType: 'error',
        content: { code: 'has spaces and pod_secret', message: 'x' },
      })[0].event,
    ).toEqual(expect.objectContaining({ code: 'UPSTREAM_ERROR' }));
    expect(
      mapPodiumEvent(ctx, { messageType: 'error', content: { code: 'has spaces', message: 'x' } })[0].event,
    ).not.toHaveProperty('detail');
    expect(mapPodiumEvent(ctx, { messageType: 'error', content: {} })[0].event).toMatchObject({
      message: 'The agent reported an error',
    });
  });
});

describe('sanitising', () => {
  const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ';

  it('redacts bearer tokens, Podium/OpenAI-style keys, JWTs and key=value secrets in turn_error', () => {
    const message = [
      'auth failed: Authorization: Bearer abc.def-123',
      'key pod_live_XYZ123 and pod_admin_ABC',
      'openai sk-proj-abc123',
      `jwt ${jwt}`,
      'url https://x/y?api_key=supersecret&x=1',
    ].join(' | ');
    const out = mapPodiumEvent(ctx, { messageType: 'error', content: { message } })[0].event as {
      message: string;
    };
    for (const secret of [
      'abc.def-123',
      'pod_live_XYZ123',
      'pod_admin_ABC',
      'sk-proj-abc123',
      jwt,
      'supersecret',
    ]) {
      expect(out.message).not.toContain(secret);
    }
    expect(out.message).toContain('[REDACTED]');
    expect(out.message).toContain('auth failed');
  });

  it('truncates to 500 characters and strips stack frames', () => {
    const out = mapPodiumEvent(ctx, { messageType: 'error', content: { message: 'x'.repeat(2000) } })[0]
      .event as {
      message: string;
    };
    expect(out.message.length).toBe(500);
    expect(sanitizeErrorMessage('Error: bad\n    at foo (/srv/app.js:1:1)\n    at bar (/srv/b.js:2:2)')).toBe(
      'Error: bad',
    );
  });

  it('redacts secrets in tool errors without truncating them', () => {
    const out = mapPodiumEvent(ctx, {
      messageType: 'tool.error',
      content: { error: `token=${'a'.repeat(600)} failed` },
    })[0].event as { error: string };
    expect(out.error).toBe('token=[REDACTED] failed');
  });
});

describe('mapAgentStatus', () => {
  it.each([
    ['busy', 'running'],
    ['running', 'running'],
    ['working', 'running'],
    ['idle', 'ready'],
    ['ready', 'ready'],
    ['waiting', 'waiting'],
    ['awaiting_input', 'waiting'],
    ['error', 'error'],
    ['failed', 'error'],
    ['stopped', 'inactive'],
    ['terminated', 'inactive'],
    [' BUSY ', 'running'],
    ['dancing', null],
    ['', null],
    ['constructor', null],
  ])('%j → %j', (status, expected) => {
    expect(mapAgentStatus(status)).toBe(expected);
  });
});

describe('contributed upstream rules', () => {
  const rules = new Map([
    [
      'lint.report',
      (content: Record<string, unknown>, c: { sessionId: string }) => [
        { type: 'lint_report', sessionId: c.sessionId, summary: content.summary } as never,
      ],
    ],
    [
      'boom',
      () => {
        throw new Error('bad rule');
      },
    ],
    ['update', () => [{ type: 'never' } as never]],
  ]);

  it('maps a name the core table does not have, by either selector, with its source', () => {
    const viaType = mapPodiumEvent(ctx, { messageType: 'lint.report', content: { summary: 'ok' } }, rules);
    const viaContent = mapPodiumEvent(ctx, { content: { event_type: 'lint.report', summary: 'ok' } }, rules);
    for (const out of [viaType, viaContent]) {
      expect(out).toEqual([
        { event: { type: 'lint_report', sessionId: 's-1', summary: 'ok' }, source: 'lint.report' },
      ]);
    }
    // Without the rule the same frame has no text and maps to nothing.
    expect(mapPodiumEvent(ctx, { messageType: 'lint.report', content: { summary: 'ok' } })).toEqual([]);
  });

  it('never overrides a core row, and a throwing rule maps to nothing', () => {
    const core = mapPodiumEvent(ctx, { messageType: 'update', content: { text: 'hi' } }, rules);
    expect(core.map((m) => m.source)).toEqual(['update']);
    expect(core[0].event.type).toBe('text_delta');
    expect(mapPodiumEvent(ctx, { messageType: 'boom', content: {} }, rules)).toEqual([]);
  });
});
