import type { SessionEvent, StateSnapshotEvent } from './wire';
import { SessionView, type ViewMessage, type ViewTerminal, type ViewToolCall } from './session-view';
import recorded from './fixtures/coding-turn.json';

/** A coding-agent turn with a question, recorded from the gateway and the simulator (fixtures/coding-turn.json). */
const events = recorded.events as SessionEvent[];
const snapshot = recorded.snapshot as StateSnapshotEvent;
const of = <T extends SessionEvent['type']>(type: T) =>
  events.filter((e) => e.type === type) as Extract<SessionEvent, { type: T }>[];
const finalText = of('turn_complete')[0].finalText;

function fold(list: SessionEvent[], view = new SessionView(snapshot.sessionId)): SessionView {
  for (const e of list) view.apply(e);
  return view;
}

describe('SessionView on a recorded coding-agent turn', () => {
  it('folds the whole turn into what a UI shows', () => {
    const view = new SessionView(snapshot.sessionId);
    view.applySnapshot(snapshot);
    fold(events, view);
    const s = view.getSnapshot();
    expect(s.status).toBe('ready');
    expect(s.turn).toEqual({ turnId: of('turn_started')[0].turnId, status: 'complete' });
    const messages = s.items.filter((i): i is ViewMessage => i.kind === 'message');
    expect(messages.map((m) => [m.role, m.text, m.streaming ?? false])).toEqual([
      ['user', 'Write hello, ask me a question first', false],
      ['assistant', finalText, false],
    ]);
    const thinking = s.items.find((i) => i.kind === 'thinking');
    expect(thinking).toMatchObject({ done: true, text: of('thinking.complete')[0].text });
    const tools = s.items.filter((i): i is ViewToolCall => i.kind === 'tool');
    expect(tools.map((t) => [t.toolName, t.status])).toEqual([
      ['write_file', 'done'],
      ['run_command', 'done'],
    ]);
    expect(tools[0].input).toEqual(of('tool_call')[0].input);
    expect(JSON.parse(tools[0].inputText)).toEqual(of('tool_call')[0].input);
    const terminal = s.items.find((i): i is ViewTerminal => i.kind === 'terminal');
    expect(terminal).toMatchObject({ command: 'cat hello.txt', exitCode: 0 });
    expect(terminal?.output).toContain('Language: ts');
    expect(s.items.find((i) => i.kind === 'request')).toMatchObject({
      resolution: { answers: { q1: 'ts' } },
    });
    expect(s.pending).toBeNull();
    expect(s.files).toEqual([
      expect.objectContaining({ path: 'hello.txt', changeType: 'created', iteration: 1 }),
    ]);
    const usage = of('usage_update')[0];
    expect(s.usage).toMatchObject({
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      turns: 1,
    });
    expect(s.sandbox).toBe('ready');
    expect(s.lastSeq).toBe(events.at(-1)!.seq);
  });

  it('shows the pending question until it is resolved, and the turn as waiting meanwhile', () => {
    const asked = events.findIndex((e) => e.type === 'question_requested');
    const view = fold(events.slice(0, asked + 2));
    expect(view.getSnapshot().pending).toMatchObject({
      type: 'question_requested',
      questions: [{ id: 'q1' }],
    });
    expect(view.getSnapshot().status).toBe('waiting');
    fold(events.slice(asked + 2, asked + 3), view);
    expect(view.getSnapshot().pending).toBeNull();
  });

  it('streams assistant text from deltas, and the final text replaces it', () => {
    const deltas = of('text_delta');
    const view = fold(events.filter((e) => e.type !== 'turn_complete' && e.type !== 'session_state'));
    const streaming = view.getSnapshot().items.find((i) => i.kind === 'message' && i.role === 'assistant');
    expect(streaming).toMatchObject({ streaming: true, text: deltas.map((d) => d.text).join('') });
  });

  it('after a re-join mid-turn, text = the snapshot’s text + later deltas: nothing lost, nothing twice', () => {
    const deltas = of('text_delta');
    const cut = events.indexOf(deltas[5]);
    const view = fold(events.slice(0, cut - 2)); // deltas[3], deltas[4] were lost in the drop
    const turnId = of('turn_started')[0].turnId;
    view.applySnapshot({
      ...snapshot,
      session: { ...snapshot.session, status: 'running' },
      lastSeq: deltas[5].seq,
      activeTurn: {
        turnId,
        startedAt: 0,
        text: deltas
          .slice(0, 6)
          .map((d) => d.text)
          .join(''),
      },
      pendingRequest: null,
    });
    // The gateway may still send deltas at or below the snapshot's lastSeq: they are in its text already.
    fold(events.slice(cut - 2, events.indexOf(deltas[9]) + 1), view);
    const text = (view.getSnapshot().items.find((i) => i.key === `a:${turnId}`) as ViewMessage).text;
    expect(text).toBe(
      deltas
        .slice(0, 10)
        .map((d) => d.text)
        .join(''),
    );
    fold(events.slice(events.indexOf(deltas[9]) + 1), view);
    const final = view.getSnapshot().items.filter((i) => i.kind === 'message' && i.role === 'assistant');
    expect(final).toEqual([expect.objectContaining({ text: finalText, streaming: false })]);
  });

  it('a stopped or failed turn ends streaming and keeps the error', () => {
    const turnId = of('turn_started')[0].turnId;
    const upToDelta = events.slice(0, events.indexOf(of('text_delta')[2]) + 1);
    const base = { sessionId: snapshot.sessionId, ts: 0, turnId };
    const failed = fold([
      ...upToDelta,
      { ...base, seq: 999, type: 'turn_error', code: 'UPSTREAM_STALLED', message: 'stalled' },
    ]);
    expect(failed.getSnapshot().turn).toEqual({
      turnId,
      status: 'error',
      error: { code: 'UPSTREAM_STALLED', message: 'stalled' },
    });
    expect(failed.getSnapshot().items.find((i) => i.key === `a:${turnId}`)).toMatchObject({
      streaming: false,
    });
    const stopped = fold([...upToDelta, { ...base, seq: 999, type: 'turn_stopped' }]);
    expect(stopped.getSnapshot().turn?.status).toBe('stopped');
  });

  it('fits useSyncExternalStore: a stable snapshot between changes, a notification per change', () => {
    const view = new SessionView('s1');
    const calls: number[] = [];
    const unsubscribe = view.subscribe(() => calls.push(view.getSnapshot().lastSeq));
    const before = view.getSnapshot();
    expect(view.getSnapshot()).toBe(before);
    view.apply(events[0]);
    expect(view.getSnapshot()).not.toBe(before);
    expect(before.lastSeq).toBe(0); // the old snapshot was not mutated
    unsubscribe();
    view.apply(events[1]);
    expect(calls).toEqual([events[0].seq]);
  });

  it('sums usage over turns, reading credits (or the older cost field)', () => {
    const usage = of('usage_update')[0];
    const view = fold([
      { ...usage, credits: 5, cost: undefined },
      { ...usage, seq: usage.seq + 100, credits: undefined, cost: 7 },
    ]);
    expect(view.getSnapshot().usage).toMatchObject({
      credits: 12,
      turns: 2,
      inputTokens: 2 * usage.inputTokens,
    });
  });
});
