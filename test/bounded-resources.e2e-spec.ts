import { DiminuendoClient, ProtocolError } from '@app/client';
import { DURABLE_EVENT_TYPES } from '@app/protocol';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { uniqueName } from './support/services';

const ROLES_CLAIM = 'https://diminuendo.dev/roles';
const MAX_ACTIVE = 2;
const FILE_MAX = 100_000;
const HOLD_MAX = 4096;

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function refusal(promise: Promise<unknown>): Promise<ProtocolError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ProtocolError)) throw new Error(`expected a protocol error, got ${String(err)}`);
  return err;
}

/** Durable session events a client received for a session, in arrival order. */
function durableSeqs(c: DiminuendoClient, sessionId: string): number[] {
  return c.log
    .filter(
      (e: any) => e.sessionId === sessionId && typeof e.seq === 'number' && DURABLE_EVENT_TYPES.has(e.type),
    )
    .map((e: any) => e.seq as number);
}

/**
 * H5 (docs/targets): viewers and floods cannot start agents without bound, file reads are bounded, a
 * join's replay stops with its socket and the live frames held for it are bounded.
 */
describe('bounded resources: agents, file reads, join replays', () => {
  let jwks: JwksServer;
  let sim: SimProcess;
  let gw: GatewayProcess;
  const token = (sub: string, tenant: string, role?: string) =>
    jwks.sign({ sub, tenant_id: tenant, ...(role ? { [ROLES_CLAIM]: role } : {}) });
  const clients: DiminuendoClient[] = [];
  const connect = async (sub: string, tenant: string, role?: string) => {
    const c = await DiminuendoClient.connect(gw.url, { token: token(sub, tenant, role) });
    clients.push(c);
    return c;
  };
  const createdFor = async (sessionId: string): Promise<string> => {
    const list = (await (await fetch(`${sim.url}/_sim/instances`)).json()) as any[];
    const found = list.find((i) => i.agent_id === sessionId);
    if (!found) throw new Error(`no instance for session ${sessionId}`);
    return found.instance_id;
  };
  const simPost = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
  const created = async () => (await sim.stats()).instancesCreated as number;

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: 'diminuendo-api',
      AUTH_ROLES_CLAIM: ROLES_CLAIM,
      BILLING_ENABLED: 'false',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      MAX_ACTIVE_SESSIONS_PER_TENANT: String(MAX_ACTIVE),
      FILE_READ_MAX_BYTES: String(FILE_MAX),
      JOIN_HOLD_MAX_BYTES: String(HOLD_MAX),
      WS_RATE_LIMIT_MAX: '1000',
    });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
    await sim?.stop();
    await jwks?.stop();
  });
  beforeEach(async () => {
    await sim.config({ createDelayMs: 0, chunkedFiles: false });
    await sim.reset();
  });

  it('lets a viewer join an idle session (snapshot and replay) and refuses its file requests, starting no agent', async () => {
    const tenant = uniqueName('view');
    const member = await connect('auth0|m', tenant);
    const viewer = await connect('auth0|v', tenant, 'viewer');
    const { session } = await member.request<any>({ type: 'create_session', agentType: 'echo' });
    await member.request({ type: 'join_session', sessionId: session.id });
    const turn = await member.request<any>({ type: 'run_turn', sessionId: session.id, text: 'hello there' });
    await member.waitFor('turn_complete', 10_000, true, (e) => e.turnId === turn.turnId);
    await member.request({ type: 'archive_session', sessionId: session.id }); // stops the agent
    await member.request({ type: 'unarchive_session', sessionId: session.id });
    await sim.reset();

    const snapshot = await viewer.request<any>({ type: 'join_session', sessionId: session.id, afterSeq: 0 });
    expect(snapshot).toMatchObject({ type: 'state_snapshot', sessionId: session.id });
    expect(snapshot.session.status).toBe('inactive');
    await viewer.waitFor('turn_complete', 5_000, true, (e) => e.turnId === turn.turnId);
    for (const msg of [
      { type: 'read_file', sessionId: session.id, path: 'README.md' },
      { type: 'list_files', sessionId: session.id },
      { type: 'file_history', sessionId: session.id, path: 'README.md' },
      { type: 'file_at_iteration', sessionId: session.id, path: 'README.md', iteration: 1 },
    ] as const) {
      const err = await refusal(viewer.request(msg));
      expect([msg.type, err.code]).toEqual([msg.type, 'FORBIDDEN']);
    }
    expect(await created()).toBe(0);
    expect((await member.request<any>({ type: 'list_sessions' })).sessions[0].status).toBe('inactive');

    // Once a member has started it, the viewer reads files of the live session.
    await member.request({ type: 'join_session', sessionId: session.id });
    const file = await viewer.request<any>({ type: 'read_file', sessionId: session.id, path: 'README.md' });
    expect(file).toMatchObject({ type: 'file_content', path: 'README.md' });
    expect(await created()).toBe(1);
  });

  it('caps live agents per tenant: the request that would start one more gets TOO_MANY_ACTIVE_SESSIONS, Podium not asked', async () => {
    const tenant = uniqueName('cap');
    const member = await connect('auth0|m', tenant);
    const ids: string[] = [];
    for (let i = 0; i < MAX_ACTIVE + 1; i++)
      ids.push((await member.request<any>({ type: 'create_session', agentType: 'echo' })).session.id);
    for (const id of ids.slice(0, MAX_ACTIVE)) {
      const snap = await member.request<any>({ type: 'join_session', sessionId: id });
      expect(snap.session.status).toBe('ready');
    }
    expect(await created()).toBe(MAX_ACTIVE);

    const last = ids[MAX_ACTIVE];
    const refusedJoin = await refusal(
      member.request({ type: 'join_session', sessionId: last, requestId: 'join-over-cap' }),
    );
    expect(refusedJoin.event).toMatchObject({ code: 'TOO_MANY_ACTIVE_SESSIONS', requestId: 'join-over-cap' });
    for (const msg of [
      { type: 'run_turn', sessionId: last, text: 'hi' },
      { type: 'read_file', sessionId: last, path: 'README.md' },
      { type: 'list_files', sessionId: last },
    ] as const) {
      const err = await refusal(member.request(msg));
      expect([msg.type, err.code]).toEqual([msg.type, 'TOO_MANY_ACTIVE_SESSIONS']);
    }
    expect(await created()).toBe(MAX_ACTIVE);
    // Nothing changed: the refused session is still inactive, and no session_state was published for it.
    const list = await member.request<any>({ type: 'list_sessions' });
    expect(list.sessions.find((s: any) => s.id === last).status).toBe('inactive');
    expect(member.received('session_state').filter((e) => e.sessionId === last)).toEqual([]);
    // The connection survives, and another tenant is not affected.
    await expect(member.request({ type: 'ping' })).resolves.toMatchObject({ type: 'pong' });
    const other = await connect('auth0|o', uniqueName('other'));
    const { session } = await other.request<any>({ type: 'create_session', agentType: 'echo' });
    expect((await other.request<any>({ type: 'join_session', sessionId: session.id })).session.status).toBe(
      'ready',
    );
    expect(await created()).toBe(MAX_ACTIVE + 1);

    // Stopping one frees a slot.
    await member.request({ type: 'archive_session', sessionId: ids[0] });
    expect((await member.request<any>({ type: 'join_session', sessionId: last })).session.status).toBe(
      'ready',
    );
    expect(await created()).toBe(MAX_ACTIVE + 2);
  });

  it('lets only one of two simultaneous starts at cap − 1 pass', async () => {
    const tenant = uniqueName('race');
    const member = await connect('auth0|m', tenant);
    const ids: string[] = [];
    for (let i = 0; i < MAX_ACTIVE + 1; i++)
      ids.push((await member.request<any>({ type: 'create_session', agentType: 'echo' })).session.id);
    await member.request({ type: 'join_session', sessionId: ids[0] });
    await sim.config({ createDelayMs: 300 }); // both starts are in flight at once
    const outcomes = await Promise.allSettled([
      member.request<any>({ type: 'join_session', sessionId: ids[1] }),
      member.request<any>({ type: 'run_turn', sessionId: ids[2], text: 'hi' }),
    ]);
    const codes = outcomes.map((o) =>
      o.status === 'fulfilled' ? 'ok' : ((o.reason as ProtocolError).code ?? String(o.reason)),
    );
    expect(codes.sort()).toEqual(['TOO_MANY_ACTIVE_SESSIONS', 'ok']);
    expect(await created()).toBe(MAX_ACTIVE);
  });

  it('refuses a file above FILE_READ_MAX_BYTES with FILE_TOO_LARGE, with and without a Content-Length', async () => {
    const member = await connect('auth0|m', uniqueName('files'));
    const { session } = await member.request<any>({ type: 'create_session', agentType: 'echo' });
    await member.request({ type: 'join_session', sessionId: session.id });
    const instance = await createdFor(session.id);
    await simPost(`/_sim/instances/${instance}/files`, { path: 'big.txt', bytes: FILE_MAX + 1000 });
    await simPost(`/_sim/instances/${instance}/files`, { path: 'fits.txt', bytes: FILE_MAX - 1000 });
    const read = (path: string) => member.request<any>({ type: 'read_file', sessionId: session.id, path });

    for (const chunkedFiles of [false, true]) {
      await sim.config({ chunkedFiles });
      const err = await refusal(read('big.txt'));
      expect([chunkedFiles, err.code]).toEqual([chunkedFiles, 'FILE_TOO_LARGE']);
      const at = await refusal(
        member.request({ type: 'file_at_iteration', sessionId: session.id, path: 'big.txt', iteration: 1 }),
      );
      expect(at.code).toBe('FILE_TOO_LARGE');
      const ok = await read('fits.txt');
      expect([chunkedFiles, ok.size, ok.content.length]).toEqual([
        chunkedFiles,
        FILE_MAX - 1000,
        FILE_MAX - 1000,
      ]);
    }
    await expect(member.request({ type: 'ping' })).resolves.toMatchObject({ type: 'pong' });
  });

  describe('join replays', () => {
    const HISTORY = 20_000;
    let member: DiminuendoClient;
    let sessionId: string;
    let lastSeq: number;

    /** A live echo session with HISTORY durable events stored, and no one joined. */
    beforeAll(async () => {
      member = await connect('auth0|m', uniqueName('replay'));
      sessionId = (await member.request<any>({ type: 'create_session', agentType: 'echo' })).session.id;
      const snap = await member.request<any>({ type: 'join_session', sessionId });
      await member.request({ type: 'leave_session', sessionId });
      const instance = await createdFor(sessionId);
      const frames = Array.from({ length: HISTORY }, (_, i) => ({
        messageType: 'file.changed',
        content: { event_type: 'file.changed', path: `f${i}.txt`, change_type: 'created', iteration: 1 },
      }));
      await simPost(`/_sim/instances/${instance}/emit`, frames);
      lastSeq = snap.lastSeq + HISTORY;
      await eventually(async () => {
        const page = await member.request<any>({
          type: 'get_events',
          sessionId,
          afterSeq: lastSeq - 1,
          limit: 1,
        });
        return page.events.length === 1;
      }, 'the history to be stored');
    });

    it('stops a replay when the socket closes', async () => {
      const before = gw.output.length;
      const c = await connect('auth0|v', member.identity!.tenantId, 'viewer');
      const snapshot = c.waitFor('state_snapshot', 10_000);
      c.send({ type: 'join_session', sessionId, afterSeq: 0 });
      await snapshot;
      c.socket.terminate();
      let line: any;
      await eventually(() => {
        line = gw.output
          .slice(before)
          .map((l) => (l.startsWith('{') ? JSON.parse(l) : {}))
          .find((l) => String(l.message ?? l.msg).includes('join replay stopped'));
        return line !== undefined;
      }, 'the replay to stop');
      expect(line.sessionId).toBe(sessionId);
      expect(line.replayed).toBeLessThan(HISTORY);
    });

    it('closes a joiner whose held live frames pass the bound with 1013; a rejoin with afterSeq has no gap', async () => {
      const runner = await connect('auth0|r', member.identity!.tenantId);
      await runner.request({ type: 'join_session', sessionId });
      const turn = await runner.request<any>({ type: 'run_turn', sessionId, text: 'bench:50000' });
      await runner.waitFor('text_delta', 10_000, true);

      const late = await connect('auth0|late', member.identity!.tenantId, 'viewer');
      late.send({ type: 'join_session', sessionId, afterSeq: 0 });
      expect(await late.closed).toEqual({ code: 1013, reason: 'join backlog too large' });
      const seen = durableSeqs(late, sessionId);
      const resumeAfter = seen.length ? seen[seen.length - 1] : 0;

      await runner.waitFor('turn_complete', 60_000, true, (e) => e.turnId === turn.turnId);
      const again = await connect('auth0|late', member.identity!.tenantId, 'viewer');
      await again.request({ type: 'join_session', sessionId, afterSeq: resumeAfter });
      await again.waitFor('turn_complete', 30_000, true, (e) => e.turnId === turn.turnId);

      // Exactly the stored durable events after the resume point, in order.
      const stored: number[] = [];
      for (let after = resumeAfter; ;) {
        const page = await again.request<any>({
          type: 'get_events',
          sessionId,
          afterSeq: after,
          limit: 1000,
        });
        stored.push(...page.events.map((e: any) => e.seq));
        if (!page.hasMore) break;
        after = page.lastSeq;
      }
      await eventually(
        () => durableSeqs(again, sessionId).includes(stored[stored.length - 1]),
        'the last event',
      );
      expect(durableSeqs(again, sessionId)).toEqual(stored);
      expect(stored.length).toBeGreaterThan(HISTORY - seen.length);
    });
  });
});
