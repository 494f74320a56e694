import { DiminuendoClient, ProtocolError } from '@app/client';
import { DURABLE_EVENT_TYPES, type SessionEvent } from '@app/protocol';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';

type Ev = SessionEvent & { requestId?: string };

/** The session events a client received for one session, in arrival order. */
function sessionEvents(c: DiminuendoClient, sessionId: string): Ev[] {
  return c.log.filter((e: any) => e.sessionId === sessionId && typeof e.seq === 'number') as Ev[];
}

function strip(e: Ev): Ev {
  const { requestId: _r, ...rest } = e as any;
  return rest;
}

async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('live sessions: turns, streaming, replay, files', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  let dataDir: string;
  const gatewayEnv = () => ({
    NODE_ENV: 'development',
    DATA_DIR: dataDir,
    PODIUM_URL: sim.url,
    PODIUM_API_KEY: SIM_KEY,
    PODIUM_RECONNECT_BASE_MS: '50',
    PODIUM_RECONNECT_ATTEMPTS: '3',
    STOP_TURN_GRACE_MS: '1500',
    TURN_STALL_TIMEOUT_MS: '1500',
    DB_WRITE_BATCH_MS: '50',
    HEARTBEAT_INTERVAL_MS: '1000',
    SESSION_IDLE_TIMEOUT_MS: '1500',
    SESSION_REAPER_INTERVAL_MS: '250',
  });

  beforeAll(async () => {
    sim = await startPodiumSim();
    dataDir = tempDataDir();
    gw = await startGateway(gatewayEnv());
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
  });
  beforeEach(async () => {
    await sim.reset();
  });

  async function newSession(c: DiminuendoClient, agentType = 'coding-agent'): Promise<string> {
    const created = await c.request<any>({ type: 'create_session', agentType });
    return created.session.id;
  }

  it('streams a coding-agent turn identically to two viewers and persists exactly the durable events', async () => {
    const a = await DiminuendoClient.connect(gw.url);
    const b = await DiminuendoClient.connect(gw.url);
    const id = await newSession(a);

    const snapA = await a.request<any>({ type: 'join_session', sessionId: id });
    expect(snapA).toMatchObject({
      type: 'state_snapshot',
      sessionId: id,
      activeTurn: null,
      pendingRequest: null,
    });
    expect(snapA.session.status).toBe('ready');
    await b.request({ type: 'join_session', sessionId: id });

    const started = await a.request<any>({
      type: 'run_turn',
      sessionId: id,
      text: 'write hello',
      clientTurnId: 'c-1',
    });
    expect(started).toMatchObject({
      type: 'turn_started',
      sessionId: id,
      clientTurnId: 'c-1',
      text: 'write hello',
    });
    const done = await b.waitFor('turn_complete', 15_000, true, (e) => e.turnId === started.turnId);
    await a.waitFor('turn_complete', 5_000, true, (e) => e.turnId === started.turnId);
    await a.waitFor('session_state', 5_000, true, (e) => e.state === 'ready' && e.seq > done.seq);
    await b.waitFor('session_state', 5_000, true, (e) => e.state === 'ready' && e.seq > done.seq);

    const evA = sessionEvents(a, id).map(strip);
    const evB = sessionEvents(b, id).filter((e) => e.seq > snapA.lastSeq);
    const fromStart = evA.filter((e) => e.seq > snapA.lastSeq);
    expect(fromStart).toEqual(evB);
    for (let i = 1; i < evA.length; i++) expect(evA[i].seq).toBeGreaterThan(evA[i - 1].seq);

    const types = fromStart.map((e) => e.type);
    for (const t of [
      'user_message',
      'turn_started',
      'thinking.start',
      'thinking.progress',
      'thinking.complete',
      'tool_call_start',
      'tool_call_delta',
      'tool_call',
      'file_changed',
      'tool_result',
      'terminal.stream',
      'terminal.complete',
      'text_delta',
      'usage_update',
      'turn_complete',
      'sandbox_ready',
    ]) {
      expect(types).toContain(t);
    }
    expect(types.filter((t) => t === 'usage_update')).toHaveLength(1);
    expect(types.indexOf('usage_update')).toBeLessThan(types.indexOf('turn_complete'));
    const deltas = fromStart
      .filter((e) => e.type === 'text_delta')
      .map((e: any) => e.text)
      .join('');
    expect((done as any).finalText).toBe(deltas);

    // get_events returns exactly the durable events, byte-identical to what was broadcast.
    const all: Ev[] = [];
    let after = 0;
    for (;;) {
      const page = await a.request<any>({ type: 'get_events', sessionId: id, afterSeq: after, limit: 7 });
      all.push(...page.events);
      if (!page.hasMore) break;
      after = page.lastSeq;
    }
    const durableBroadcast = evA.filter((e) => DURABLE_EVENT_TYPES.has(e.type));
    expect(all).toEqual(durableBroadcast);

    const history = await b.request<any>({ type: 'get_history', sessionId: id });
    expect(history.messages.map((m: any) => m.role)).toEqual(['user', 'assistant']);
    expect(history.messages[1].text).toBe((done as any).finalText);
    await Promise.all([a.close(), b.close()]);
  });

  it('lets a client that dropped mid-turn rejoin with afterSeq and miss nothing durable', async () => {
    await sim.config({ tokenDelayMs: 15 });
    const a = await DiminuendoClient.connect(gw.url);
    const id = await newSession(a);
    await a.request({ type: 'join_session', sessionId: id });
    const started = await a.request<any>({ type: 'run_turn', sessionId: id, text: 'stream something long' });
    await a.waitFor('tool_call', 10_000, true);
    const seen = sessionEvents(a, id);
    const lastSeq = seen[seen.length - 1].seq;
    await a.close();

    const again = await DiminuendoClient.connect(gw.url);
    await again.request({ type: 'join_session', sessionId: id, afterSeq: lastSeq });
    const done = await again.waitFor('turn_complete', 15_000, true, (e) => e.turnId === started.turnId);
    await again.waitFor('session_state', 5_000, true, (e) => e.state === 'ready' && e.seq > done.seq);
    const after = sessionEvents(again, id);
    const seqs = after.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    expect(Math.min(...seqs)).toBeGreaterThan(lastSeq);

    const durableSeen = [...seen, ...after].filter((e) => DURABLE_EVENT_TYPES.has(e.type)).map((e) => e.seq);
    const page = await again.request<any>({ type: 'get_events', sessionId: id, afterSeq: 0, limit: 1000 });
    expect(durableSeen).toEqual(page.events.map((e: any) => e.seq));
    await again.close();
  });

  it('round-trips a question and a permission through answer_question', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const id = await newSession(c);
    await c.request({ type: 'join_session', sessionId: id });

    await c.request({ type: 'run_turn', sessionId: id, text: 'ask me a question first' });
    const q = await c.waitFor('question_requested', 10_000, true);
    expect(q.questions[0]).toMatchObject({ id: 'q1', question: expect.any(String), options: ['ts', 'py'] });
    await c.waitFor('session_state', 5_000, true, (e) => e.state === 'waiting');
    const snap = await c.request<any>({ type: 'join_session', sessionId: id });
    expect(snap.session.status).toBe('waiting');
    expect(snap.pendingRequest).toMatchObject({ type: 'question_requested', requestId: q.requestId });
    await expect(
      c.request({ type: 'answer_question', sessionId: id, requestId: 'nope', answers: { q1: 'ts' } }),
    ).rejects.toMatchObject({ code: 'REQUEST_NOT_FOUND' });
    const resolved = await c.request<any>({
      type: 'answer_question',
      sessionId: id,
      requestId: q.requestId,
      answers: { q1: 'py' },
    });
    expect(resolved).toMatchObject({
      type: 'approval_resolved',
      requestId: q.requestId,
      answers: { q1: 'py' },
      resolvedBy: 'dev-user-001',
    });
    const done = await c.waitFor('turn_complete', 10_000, true);
    expect(done.finalText).toContain('py');
    expect(c.received('approval_resolved').filter((e) => e.requestId === q.requestId)).toHaveLength(1);
    await expect(
      c.request({ type: 'answer_question', sessionId: id, requestId: q.requestId, answers: { q1: 'ts' } }),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });

    await c.request({ type: 'run_turn', sessionId: id, text: 'needs permission to run' });
    const p = await c.waitFor('permission_requested', 10_000, true);
    expect(p).toMatchObject({ toolName: 'run_command' });
    await c.waitFor('session_state', 5_000, true, (e) => e.state === 'waiting' && e.seq > p.seq);
    const ok = await c.request<any>({
      type: 'answer_question',
      sessionId: id,
      requestId: p.requestId,
      approved: true,
    });
    expect(ok).toMatchObject({ type: 'approval_resolved', approved: true });
    await c.waitFor('turn_complete', 10_000, false);
    await c.close();
  });

  it('steers and stops a running turn, and answers each wrong-state action with its code', async () => {
    await sim.config({ tokenDelayMs: 25 });
    const c = await DiminuendoClient.connect(gw.url);
    const id = await newSession(c, 'echo');
    await expect(c.request({ type: 'stop_turn', sessionId: id })).rejects.toMatchObject({
      code: 'NO_ACTIVE_TURN',
    });
    await expect(c.request({ type: 'steer', sessionId: id, text: 'x' })).rejects.toMatchObject({
      code: 'NO_ACTIVE_TURN',
    });
    await c.request({ type: 'join_session', sessionId: id });

    const long = 'lorem ipsum dolor sit amet '.repeat(20);
    const t1 = await c.request<any>({ type: 'run_turn', sessionId: id, text: long });
    await expect(c.request({ type: 'run_turn', sessionId: id, text: 'again' })).rejects.toMatchObject({
      code: 'TURN_IN_PROGRESS',
    });
    const steered = await c.request<any>({ type: 'steer', sessionId: id, text: 'be brief' });
    expect(steered).toMatchObject({
      type: 'steer_sent',
      turnId: t1.turnId,
      text: 'be brief',
      userId: 'dev-user-001',
    });
    await c.waitFor('text_delta', 5_000, false, (e) => e.text.includes('steered'));
    const stopped = await c.request<any>({ type: 'stop_turn', sessionId: id });
    expect(stopped).toMatchObject({ type: 'turn_stopped', turnId: t1.turnId });
    await c.waitFor('session_state', 5_000, true, (e) => e.state === 'ready' && e.seq > stopped.seq - 5);
    expect(c.received('turn_complete').filter((e) => e.turnId === t1.turnId)).toHaveLength(0);

    await c.request({ type: 'archive_session', sessionId: id });
    await expect(c.request({ type: 'run_turn', sessionId: id, text: 'hi' })).rejects.toMatchObject({
      code: 'SESSION_ARCHIVED',
    });
    await expect(
      c.request({ type: 'answer_question', sessionId: id, requestId: 'r', answers: 'x' }),
    ).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(
      c.request({ type: 'run_turn', sessionId: 'not-a-session', text: 'hi' }),
    ).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    await c.close();
  });

  it('reads the workspace through Podium, including older iterations', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const id = await newSession(c);
    await c.request({ type: 'join_session', sessionId: id });
    await c.request({ type: 'run_turn', sessionId: id, text: 'write hello' });
    await c.waitFor('turn_complete', 10_000, true);
    await c.request({ type: 'run_turn', sessionId: id, text: 'write hello again' });
    await c.waitFor('turn_complete', 10_000, false);

    const list = await c.request<any>({ type: 'list_files', sessionId: id });
    expect(list.entries.map((e: any) => e.name)).toEqual(expect.arrayContaining(['README.md', 'hello.txt']));
    const hist = await c.request<any>({ type: 'file_history', sessionId: id, path: 'hello.txt' });
    expect(hist.iterations.length).toBeGreaterThanOrEqual(2);
    const first = await c.request<any>({
      type: 'file_at_iteration',
      sessionId: id,
      path: 'hello.txt',
      iteration: 1,
    });
    const current = await c.request<any>({ type: 'read_file', sessionId: id, path: 'hello.txt' });
    expect(first).toMatchObject({ type: 'file_content', iteration: 1, encoding: 'utf8' });
    expect(current.iteration).toBe(hist.iterations[hist.iterations.length - 1].iteration);
    expect(first.content).not.toEqual(current.content);
    await expect(c.request({ type: 'read_file', sessionId: id, path: 'missing.txt' })).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
    });
    await expect(
      c.request({ type: 'read_file', sessionId: id, path: '../../etc/passwd' }),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(
      c.request({ type: 'file_at_iteration', sessionId: id, path: 'hello.txt', iteration: 99 }),
    ).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await c.close();
  });

  it('turns a failing instance creation into AGENT_UNAVAILABLE and the error state, then recovers', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const id = await newSession(c, 'echo');
    await sim.config({ failCreate: 1 });
    const err = await c
      .request({ type: 'run_turn', sessionId: id, text: 'hi' })
      .catch((e: ProtocolError) => e);
    expect((err as ProtocolError).code).toBe('AGENT_UNAVAILABLE');
    const list = await c.request<any>({ type: 'list_sessions' });
    expect(list.sessions.find((s: any) => s.id === id).status).toBe('error');
    await c.waitFor('session_state', 2_000, true, (e) => e.sessionId === id && e.state === 'error');
    // Retry: joining runs error → inactive → activating → ready, and the turn runs.
    const snap = await c.request<any>({ type: 'join_session', sessionId: id });
    expect(snap.session.status).toBe('ready');
    await c.request({ type: 'run_turn', sessionId: id, text: 'hello there' });
    const done = await c.waitFor('turn_complete', 10_000, true, (e) => e.sessionId === id);
    expect(done.finalText).toBe('hello there');
    await c.waitFor(
      'session_state',
      5_000,
      true,
      (e) => e.sessionId === id && e.state === 'ready' && e.seq > done.seq,
    );
    const states = c
      .received('session_state')
      .filter((e) => e.sessionId === id)
      .map((e) => e.state);
    expect(states).toEqual(['activating', 'error', 'inactive', 'activating', 'ready', 'running', 'ready']);
    await c.close();
  });

  it('survives a dropped stream (reconnects) and a stalled one (turn_error), never hanging', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const id = await newSession(c, 'echo');
    await c.request({ type: 'join_session', sessionId: id });
    await sim.config({ dropStreamAfterFrames: 3, tokenDelayMs: 10 });
    await c.request<any>({
      type: 'run_turn',
      sessionId: id,
      text: 'one two three four five six seven eight',
    });
    const end = await Promise.race([
      c.waitFor('turn_complete', 15_000, true).then((e) => e.type),
      c.waitFor('turn_error', 15_000, true).then((e) => e.type),
    ]);
    expect(['turn_complete', 'turn_error']).toContain(end);

    await c.waitFor(
      'session_state',
      5_000,
      true,
      (e) => e.sessionId === id && (e.state === 'ready' || e.state === 'error'),
    );
    await sim.config({ stallAfterFrames: 2 });
    const id2 = await newSession(c, 'echo');
    await c.request({ type: 'join_session', sessionId: id2 });
    await c.request({ type: 'run_turn', sessionId: id2, text: 'this will stall halfway through' });
    const stalled = await c.waitFor('turn_error', 10_000, true, (e) => e.sessionId === id2);
    expect(stalled.code).toBe('UPSTREAM_STALLED');
    await c.waitFor('session_state', 5_000, true, (e) => e.sessionId === id2 && e.state === 'error');

    await sim.config({ upstreamError: true });
    const id3 = await newSession(c, 'echo');
    await c.request({ type: 'join_session', sessionId: id3 });
    await c.request({ type: 'run_turn', sessionId: id3, text: 'fail please' });
    const upstream = await c.waitFor('turn_error', 10_000, true, (e) => e.sessionId === id3);
    expect(upstream.message).not.toMatch(/pod_/);
    expect((await fetch(`${gw.url}/health/live`)).status).toBe(200);
    await c.close();
  });

  it('batches writes: a burst of events lands in far fewer statements and transactions than rows', async () => {
    const health = async (): Promise<any> => (await fetch(`${gw.url}/health`)).json();
    const before = (await health()).writer;
    const c = await DiminuendoClient.connect(gw.url);
    const ids = await Promise.all([1, 2, 3].map(() => newSession(c, 'echo')));
    for (const id of ids) await c.request({ type: 'join_session', sessionId: id });
    await Promise.all(
      ids.map((id) => c.request({ type: 'run_turn', sessionId: id, text: 'burst '.repeat(60) })),
    );
    for (const id of ids) await c.waitFor('turn_complete', 10_000, true, (e) => e.sessionId === id);
    await c.request({ type: 'get_events', sessionId: ids[0] }); // flushes
    await eventually(async () => (await health()).writer.queued === 0, 5000, 'writer drained');
    const after = (await health()).writer;
    const rows = after.rows - before.rows;
    const statements = after.statements - before.statements;
    const transactions = after.transactions - before.transactions;
    expect(rows).toBeGreaterThanOrEqual(3 * 6);
    expect(statements).toBeLessThan(rows);
    expect(transactions).toBeLessThan(rows / 2);
    await c.close();
  });

  it('sends heartbeats to watched sessions and stops the agent of a session nobody watches', async () => {
    const watcher = await DiminuendoClient.connect(gw.url);
    expect(watcher.log.find((e) => e.type === 'connected')).toMatchObject({ heartbeatIntervalMs: 1000 });
    const id = await newSession(watcher, 'echo');
    await watcher.request({ type: 'join_session', sessionId: id });
    const beat = await watcher.waitFor('heartbeat', 3000);
    expect(typeof beat.ts).toBe('number');
    const before = (await sim.stats()).instancesStopped;

    await watcher.request({ type: 'leave_session', sessionId: id });
    const idle = await watcher.waitFor(
      'session_state',
      6000,
      true,
      (e) => e.sessionId === id && e.state === 'inactive',
    );
    expect(idle.previousState).toBe('deactivating');
    expect((await sim.stats()).instancesStopped).toBeGreaterThan(before); // other tests' idle sessions may stop too
    const list = await watcher.request<any>({ type: 'list_sessions' });
    expect(list.sessions.find((s: any) => s.id === id).status).toBe('inactive');
    await watcher.close();
  });

  it('continues seq after a restart without reuse, with history and events intact', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const id = await newSession(c, 'echo');
    await c.request({ type: 'join_session', sessionId: id });
    await c.request({ type: 'run_turn', sessionId: id, text: 'before restart' });
    await c.waitFor('turn_complete', 10_000, true);
    const beforeEvents = await c.request<any>({ type: 'get_events', sessionId: id, limit: 1000 });
    const maxBefore = Math.max(...sessionEvents(c, id).map((e) => e.seq));
    await c.close();

    expect(await gw.stop()).toBe(0);
    gw = await startGateway(gatewayEnv());
    const d = await DiminuendoClient.connect(gw.url);
    const snap = await d.request<any>({ type: 'join_session', sessionId: id });
    expect(snap.recentMessages.map((m: any) => m.text)).toEqual(['before restart', 'before restart']);
    await d.request({ type: 'run_turn', sessionId: id, text: 'after restart' });
    await d.waitFor('turn_complete', 10_000, true);
    const afterEvents = await d.request<any>({ type: 'get_events', sessionId: id, limit: 1000 });
    const newOnes = afterEvents.events.slice(beforeEvents.events.length);
    expect(afterEvents.events.slice(0, beforeEvents.events.length)).toEqual(beforeEvents.events);
    expect(newOnes.length).toBeGreaterThan(0);
    expect(Math.min(...newOnes.map((e: any) => e.seq))).toBeGreaterThan(maxBefore);
    await d.close();
  });
});
