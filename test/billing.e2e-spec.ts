import { DiminuendoClient, ProtocolError } from '@app/client';
import { adminClient, eventually } from './support/admin-http';
import {
  runGatewayExpectingExit,
  startGateway,
  tempDataDir,
  type GatewayProcess,
} from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';

const AUDIENCE = 'diminuendo-api';
const ROLES_CLAIM = 'https://diminuendo.test/roles';
const R = 1_000_000;
/** Prices the tests can recompute: the echo model by configuration, the coder model from the built-in table. */
const ECHO_PRICE = { input: 100, output: 1000, cacheRead: 10, cacheWrite: 125 };
const CODER_PRICE = { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 };

type Entry = {
  id: number;
  kind: string;
  amount: number;
  balanceAfter: number;
  reservedAfter: number;
  turnId?: string;
  note?: string;
};

describe('billing: reservations, settlement, recovery (production auth, real processes)', () => {
  let jwks: JwksServer;
  let sim: SimProcess;
  let gw: GatewayProcess;

  const env = (): Record<string, string> => ({
    NODE_ENV: 'production',
    AUTH_URL: jwks.url,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_ROLES_CLAIM: ROLES_CLAIM,
    AUTH_RATE_LIMIT_MAX: '1000',
    WS_RATE_LIMIT_MAX: '1000',
    PODIUM_URL: sim.url,
    PODIUM_API_KEY: SIM_KEY,
    BILLING_PRICES: JSON.stringify({ 'sim-echo-1': ECHO_PRICE }),
    DB_WRITE_BATCH_MS: '20',
  });
  const token = (tenant: string, role = 'owner', sub = `auth0|${role}-${tenant}`) =>
    jwks.sign({ sub, tenant_id: tenant, [ROLES_CLAIM]: [role] }, { audience: AUDIENCE });
  const api = (tenant: string, role = 'owner', base = gw.url) => adminClient(base, token(tenant, role));
  const connect = (tenant: string, url = gw.url) => DiminuendoClient.connect(url, { token: token(tenant) });

  async function ledger(tenant: string, base = gw.url): Promise<Entry[]> {
    const all: Entry[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await api(
        tenant,
        'owner',
        base,
      )('GET', `/billing/ledger?limit=200${before ? `&before=${before}` : ''}`);
      expect(page.status).toBe(200);
      all.push(...page.body.entries);
      if (page.body.nextBefore === undefined) return all;
      before = page.body.nextBefore;
    }
  }

  async function settled(tenant: string, base = gw.url) {
    return eventually(
      async () => (await api(tenant, 'owner', base)('GET', '/billing')).body,
      (b) => b.reserved === 0,
      15_000,
      `no open reservation for ${tenant}`,
    );
  }

  async function session(c: DiminuendoClient, agentType = 'echo'): Promise<string> {
    const created = await c.request<any>({ type: 'create_session', agentType });
    await c.request({ type: 'join_session', sessionId: created.session.id });
    return created.session.id;
  }

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    sim = await startPodiumSim();
    gw = await startGateway(env());
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
    await jwks?.stop();
  });
  beforeEach(async () => {
    await sim.reset();
  });

  it('answers run_turn with INSUFFICIENT_CREDITS on a zero balance, and no turn reaches the agent', async () => {
    const c = await connect('broke');
    const id = await session(c);
    const before = await sim.stats();
    const err = await c.request({ type: 'run_turn', sessionId: id, text: 'hello' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe('INSUFFICIENT_CREDITS');
    // A second session that was never joined: still nothing sent to the agent.
    const other = (await c.request<any>({ type: 'create_session', agentType: 'echo' })).session.id;
    await expect(c.request({ type: 'run_turn', sessionId: other, text: 'hello' })).rejects.toMatchObject({
      code: 'INSUFFICIENT_CREDITS',
    });
    const after = await sim.stats();
    expect(after.turnsReceived).toBe(before.turnsReceived);
    // The never-joined session was not even activated: no instance was created for it.
    expect(after.instancesCreated).toBe(before.instancesCreated);
    expect(after.messagesReceived.process_message ?? 0).toBe(before.messagesReceived.process_message ?? 0);
    expect(c.received('turn_started', 'user_message')).toHaveLength(0);
    const list = await c.request<any>({ type: 'list_sessions' });
    expect(list.sessions.find((s: any) => s.id === id).status).toBe('ready');

    const balance = await api('broke')('GET', '/billing');
    expect(balance).toMatchObject({
      status: 200,
      body: { balance: 0, reserved: 0, available: 0, unit: 'micro-credits', billingEnabled: true },
    });
    expect(await ledger('broke')).toEqual([]);
    await c.close();
  });

  it('reserves and settles each turn: the balance is the grant minus the cost of every usage_update', async () => {
    const grant = await api('payer', 'billing_admin')('POST', '/billing/grants', {
      amount: 50 * R,
      note: 'start',
    });
    expect(grant.status).toBe(201);
    expect(grant.body).toMatchObject({
      entry: { kind: 'grant', amount: 50 * R, note: 'start' },
      balance: 50 * R,
    });

    const c = await connect('payer');
    const echo = await session(c, 'echo');
    const coder = await session(c, 'coding-agent');
    const turns: { turnId: string; cost: number; usage: any }[] = [];
    const prompts: [string, string][] = [
      [echo, 'first turn, a short one'],
      [echo, 'second turn with somewhat more text in it to cost a little more'],
      [coder, 'write hello'],
      [echo, 'third'],
    ];
    for (const [sessionId, text] of prompts) {
      const started = await c.request<any>({ type: 'run_turn', sessionId, text });
      const usage = await c.waitFor('usage_update', 15_000, true, (e) => e.turnId === started.turnId);
      const done = await c.waitFor('turn_complete', 15_000, true, (e) => e.turnId === started.turnId);
      expect(usage.seq).toBeLessThan(done.seq);
      turns.push({ turnId: started.turnId, cost: usage.cost!, usage });
      await c.waitFor(
        'session_state',
        5_000,
        true,
        (e) => e.sessionId === sessionId && e.state === 'ready' && e.seq > done.seq,
      );
    }
    // Each usage_update carries the priced cost of its tokens.
    for (const { usage } of turns) {
      const price =
        usage.model === 'sim-echo-1' ? ECHO_PRICE : usage.model === 'sim-coder-1' ? CODER_PRICE : undefined;
      expect(price).toBeDefined();
      // In hundredths of a micro-credit (the built-in cache prices have two decimals), rounded up.
      const hundredths =
        usage.inputTokens * price!.input * 100 +
        usage.outputTokens * price!.output * 100 +
        (usage.cacheReadTokens ?? 0) * price!.cacheRead * 100 +
        (usage.cacheWriteTokens ?? 0) * price!.cacheWrite * 100;
      const expected = Math.ceil(Math.round(hundredths) / 100);
      expect(usage.cost).toBe(expected);
      expect(usage.cost).toBeGreaterThan(0);
    }

    const total = turns.reduce((s, t) => s + t.cost, 0);
    const balance = await settled('payer');
    expect(balance).toEqual({
      balance: 50 * R - total,
      reserved: 0,
      available: 50 * R - total,
      unit: 'micro-credits',
      billingEnabled: true,
    });

    const entries = await ledger('payer');
    for (const { turnId, cost } of turns) {
      const mine = entries.filter((e) => e.turnId === turnId);
      expect(mine.map((e) => e.kind).sort()).toEqual(['reserve', 'settle']);
      const reserve = mine.find((e) => e.kind === 'reserve')!;
      const settle = mine.find((e) => e.kind === 'settle')!;
      expect(reserve.amount).toBe(R);
      expect(settle.amount).toBe(cost);
      expect(settle.id).toBeGreaterThan(reserve.id);
    }
    expect(entries[0].balanceAfter).toBe(50 * R - total);
    expect(entries.filter((e) => e.kind === 'grant')).toHaveLength(1);

    // The usage read model agrees with what was broadcast.
    const usage = await api('payer', 'billing_admin')('GET', '/usage');
    expect(usage.status).toBe(200);
    expect(usage.body.totals).toEqual({
      inputTokens: turns.reduce((s, t) => s + t.usage.inputTokens, 0),
      outputTokens: turns.reduce((s, t) => s + t.usage.outputTokens, 0),
      cost: total,
    });
    expect(usage.body.turns.map((t: any) => t.turnId).sort()).toEqual(turns.map((t) => t.turnId).sort());
    const page = await api('payer')('GET', `/usage?sessionId=${echo}&limit=2`);
    expect(page.body.turns).toHaveLength(2);
    expect(page.body.turns.every((t: any) => t.sessionId === echo)).toBe(true);
    const rest = await api('payer')('GET', `/usage?sessionId=${echo}&limit=2&before=${page.body.nextBefore}`);
    expect(rest.body.turns).toHaveLength(1);
    expect(rest.body.nextBefore).toBeUndefined();
    expect([...page.body.turns, ...rest.body.turns].map((t: any) => t.cost)).toEqual(
      turns
        .filter((t) => t.usage.sessionId === echo)
        .reverse()
        .map((t) => t.cost),
    );
    // A session id the tenant's registry does not vouch for is not found, whoever owns it.
    expect((await api('broke')('GET', `/usage?sessionId=${echo}`)).body.code).toBe('SESSION_NOT_FOUND');
    await c.close();
  });

  it('starts at most as many of twenty concurrent turns as the balance covers, and never overspends', async () => {
    await api('crowd')('POST', '/billing/grants', { amount: 10 * R });
    const clients = await Promise.all([0, 1, 2, 3].map(() => connect('crowd')));
    const sessions: { c: DiminuendoClient; id: string }[] = [];
    for (let i = 0; i < 20; i++) {
      const c = clients[i % clients.length];
      sessions.push({ c, id: await session(c) });
    }
    // Slow turns, so none finishes (and frees its reservation) while the others start.
    await sim.config({ tokenDelayMs: 150 });
    const before = await sim.stats();
    const results = await Promise.allSettled(
      sessions.map(({ c, id }) => c.request<any>({ type: 'run_turn', sessionId: id, text: `go ${id}` })),
    );
    const started = results
      .filter((r) => r.status === 'fulfilled')
      .map((r) => (r as PromiseFulfilledResult<any>).value);
    const refused = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    expect(started.length).toBeLessThanOrEqual(10);
    expect(started.length).toBe(10);
    for (const r of refused) expect(r.reason).toMatchObject({ code: 'INSUFFICIENT_CREDITS' });
    const during = await api('crowd')('GET', '/billing');
    expect(during.body).toMatchObject({ balance: 10 * R, reserved: 10 * R, available: 0 });

    await sim.config({ tokenDelayMs: 1 });
    for (const s of started) {
      const owner = sessions.find((x) => x.id === s.sessionId)!.c;
      await owner.waitFor('turn_complete', 20_000, true, (e) => e.turnId === s.turnId);
    }
    expect((await sim.stats()).turnsReceived - before.turnsReceived).toBe(10);
    const final = await settled('crowd');

    // Replay the ledger: a reservation was only ever taken against a covering balance, and the
    // books add up to the account.
    const entries = (await ledger('crowd')).reverse();
    let balance = 0;
    let reserved = 0;
    for (const e of entries) {
      if (e.kind === 'grant' || e.kind === 'adjust') balance += e.amount;
      if (e.kind === 'reserve') {
        expect(balance - reserved).toBeGreaterThanOrEqual(R);
        reserved += e.amount;
      }
      if (e.kind === 'settle') {
        balance -= e.amount;
        reserved -= R;
      }
      if (e.kind === 'release') reserved -= e.amount;
      expect([e.balanceAfter, e.reservedAfter]).toEqual([balance, reserved]);
      expect(e.balanceAfter).toBeGreaterThanOrEqual(0);
    }
    expect(entries.filter((e) => e.kind === 'reserve')).toHaveLength(10);
    expect(entries.filter((e) => e.kind === 'settle')).toHaveLength(10);
    expect(final).toMatchObject({ balance, reserved: 0 });
    expect(final.balance).toBe(
      10 * R - entries.filter((e) => e.kind === 'settle').reduce((s, e) => s + e.amount, 0),
    );
    await Promise.all(clients.map((c) => c.close()));
  });

  it('releases a reservation on stop without usage and on deactivation, and settles a stopped turn that reported usage', async () => {
    await api('stopper')('POST', '/billing/grants', { amount: 5 * R });
    const c = await connect('stopper');
    const id = await session(c);
    await sim.config({ tokenDelayMs: 40 });
    const t1 = await c.request<any>({
      type: 'run_turn',
      sessionId: id,
      text: 'lorem ipsum dolor sit amet '.repeat(10),
    });
    await c.waitFor('text_delta', 5_000, true, (e) => e.turnId === t1.turnId);
    await c.request({ type: 'stop_turn', sessionId: id });
    await settled('stopper');
    const e1 = (await ledger('stopper')).filter((e) => e.turnId === t1.turnId).map((e) => e.kind);
    // The simulator reports usage on interrupt: the stopped turn is charged what it used.
    expect(e1.sort()).toEqual(['reserve', 'settle']);

    // A turn cut off by archiving the session ends without usage: its reservation is released.
    await sim.config({ tokenDelayMs: 300 });
    await c.waitFor(
      'session_state',
      5_000,
      true,
      (e) => e.sessionId === id && e.state === 'ready' && e.seq > t1.seq,
    );
    const t2 = await c.request<any>({ type: 'run_turn', sessionId: id, text: 'this one will be cut off' });
    await c.request({ type: 'archive_session', sessionId: id });
    const b = await settled('stopper');
    const e2 = (await ledger('stopper')).filter((e) => e.turnId === t2.turnId).map((e) => e.kind);
    expect(e2.sort()).toEqual(['release', 'reserve']);
    expect(b.reserved).toBe(0);
    await c.close();
  });

  it('releases the reservation of a turn that died with a killed gateway once recovery has run', async () => {
    const dataDir = tempDataDir();
    const first = await startGateway({ ...env(), DATA_DIR: dataDir });
    let second: GatewayProcess | undefined;
    try {
      await api('crash', 'owner', first.url)('POST', '/billing/grants', { amount: 3 * R });
      const c = await connect('crash', first.url);
      const id = await session(c);
      await sim.config({ tokenDelayMs: 2_000 });
      const started = await c.request<any>({
        type: 'run_turn',
        sessionId: id,
        text: 'a turn that never ends',
      });
      expect((await api('crash', 'owner', first.url)('GET', '/billing')).body).toMatchObject({ reserved: R });
      await first.stop('SIGKILL');
      await c.closed;

      second = await startGateway({ ...env(), DATA_DIR: dataDir });
      const after = await settled('crash', second.url);
      expect(after).toMatchObject({ balance: 3 * R, reserved: 0, available: 3 * R });
      const entries = await ledger('crash', second.url);
      const mine = entries.filter((e) => e.turnId === started.turnId);
      expect(mine.map((e) => e.kind).sort()).toEqual(['release', 'reserve']);
      expect(mine.find((e) => e.kind === 'release')!.note).toMatch(/recovery/);
      await eventually(
        async () => second!.output.join('\n'),
        (out) => /stale session recovery/.test(out),
        5_000,
        'recovery log line',
      );
      // The tenant can spend again on the new process.
      const c2 = await connect('crash', second.url);
      const snap = await c2.request<any>({ type: 'join_session', sessionId: id });
      expect(snap.session.status).toBe('ready');
      await sim.config({ tokenDelayMs: 1 });
      const again = await c2.request<any>({ type: 'run_turn', sessionId: id, text: 'after the crash' });
      await c2.waitFor('turn_complete', 15_000, true, (e) => e.turnId === again.turnId);
      await settled('crash', second.url);
      await c2.close();
    } finally {
      await first.stop('SIGKILL');
      await second?.stop();
    }
  });
});

describe('billing configuration', () => {
  it.each([
    [{ BILLING_PRICES: '{"sim-echo-1": {"input": -1, "output": 2}}' }, 'BILLING_PRICES["sim-echo-1"].input'],
    [{ BILLING_PRICES: '{oops' }, 'BILLING_PRICES: not valid JSON'],
    [{ BILLING_DEFAULT_PRICE: '{"input": 1}' }, 'BILLING_DEFAULT_PRICE.output'],
    [{ TURN_RESERVATION_CREDITS: 'lots' }, 'TURN_RESERVATION_CREDITS'],
    [{ BILLING_ENABLED: 'perhaps' }, 'BILLING_ENABLED'],
  ])('refuses to start with %p, naming the variable', async (env, name) => {
    const { code, output } = await runGatewayExpectingExit({ NODE_ENV: 'development', ...env });
    expect(code).toBe(1);
    expect(output).toContain(name);
  });
});

describe('billing off (dev mode default): usage is recorded and priced, nothing is reserved or charged', () => {
  let sim: SimProcess;
  let gw: GatewayProcess;
  beforeAll(async () => {
    sim = await startPodiumSim();
    gw = await startGateway({ NODE_ENV: 'development', PODIUM_URL: sim.url, PODIUM_API_KEY: SIM_KEY });
  });
  afterAll(async () => {
    await gw?.stop();
    await sim?.stop();
  });

  it('runs turns on a zero balance and reports their cost', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const created = await c.request<any>({ type: 'create_session', agentType: 'echo' });
    const id = created.session.id;
    await c.request({ type: 'join_session', sessionId: id });
    const started = await c.request<any>({ type: 'run_turn', sessionId: id, text: 'free as in beer' });
    const usage = await c.waitFor('usage_update', 10_000, true, (e) => e.turnId === started.turnId);
    await c.waitFor('turn_complete', 10_000, true, (e) => e.turnId === started.turnId);
    // Built-in sim-echo-1 price: 3 per input token, 15 per output token.
    expect(usage.model).toBe('sim-echo-1');
    expect(usage.cost).toBe(usage.inputTokens * 3 + usage.outputTokens * 15);
    const api = adminClient(gw.url);
    expect((await api('GET', '/billing')).body).toEqual({
      balance: 0,
      reserved: 0,
      available: 0,
      unit: 'micro-credits',
      billingEnabled: false,
    });
    expect((await api('GET', '/billing/ledger')).body).toEqual({ entries: [] });
    const report = await eventually(
      async () => (await api('GET', `/usage?sessionId=${id}`)).body,
      (b) => b.turns?.length === 1,
      5_000,
      'usage row',
    );
    expect(report.turns[0]).toMatchObject({ turnId: started.turnId, cost: usage.cost, model: 'sim-echo-1' });
    await c.close();
  });
});
