import { join } from 'node:path';
import { DiminuendoClient, ProtocolError } from '@app/client';
import type { ClientMessageInput, Role } from '@app/protocol';
import { AUDIT_EXTENSION_ENTRY, startGateway, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';
import { uniqueName } from './support/services';
import { query } from './support/sqlite';

const AUDIENCE = 'diminuendo-api';
const ROLES_CLAIM = 'https://diminuendo.test/roles';

/** A frame of a type the core protocol does not know (the SDK's types cover the core ones only). */
const extensionFrame = (frame: Record<string, unknown>) => frame as unknown as ClientMessageInput;

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ProtocolError) return err.code;
    throw err;
  }
}

describe('the audit extension (docs/extending.md) loaded into the gateway', () => {
  let jwks: JwksServer;
  let gw: GatewayProcess;
  let sim: SimProcess;
  const clients: DiminuendoClient[] = [];
  const simPost = async (path: string, body: unknown) => {
    const res = await fetch(`${sim.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
  };
  const token = (tenant: string, sub: string, role: Role) =>
    jwks.sign({ sub, tenant_id: tenant, [ROLES_CLAIM]: [role] }, { audience: AUDIENCE, expiresIn: 3600 });
  const connect = async (credential: string) => {
    const c = await DiminuendoClient.connect(gw.url, { token: credential });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    sim = await startPodiumSim();
    gw = await startGateway(
      {
        NODE_ENV: 'production',
        PODIUM_URL: sim.url,
        PODIUM_API_KEY: SIM_KEY,
        AUTH_URL: jwks.url,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_ROLES_CLAIM: ROLES_CLAIM,
        AUTH_RATE_LIMIT_MAX: '1000',
        BILLING_ENABLED: 'false',
      },
      15_000,
      AUDIT_EXTENSION_ENTRY,
    );
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gw?.stop();
    await sim?.stop();
    await jwks?.stop();
  });

  it('(b) maps the upstream lint.report to a lint_report session event sent to the viewers', async () => {
    const c = await connect(token(uniqueName('lint'), 'auth0|dev', 'member'));
    const sessionId = (await c.request<any>({ type: 'create_session', agentType: 'echo' })).session.id;
    await c.request({ type: 'join_session', sessionId });
    const list = (await (await fetch(`${sim.url}/_sim/instances`)).json()) as any[];
    const instance = list.find((i) => i.agent_id === sessionId)?.instance_id;
    expect(instance).toBeDefined();
    const report = (c.waitFor as (type: string) => Promise<any>).call(c, 'lint_report');
    await simPost(`/_sim/instances/${instance}/emit`, [
      { messageType: 'lint.report', content: { event_type: 'lint.report', summary: '' } },
      {
        messageType: 'lint.report',
        content: { event_type: 'lint.report', errors: 2, warnings: 1, summary: '2 errors in a.ts' },
      },
    ]);
    const event = await report;
    expect(event).toMatchObject({
      type: 'lint_report',
      sessionId,
      errors: 2,
      warnings: 1,
      summary: '2 errors in a.ts',
    });
    expect(typeof event.seq).toBe('number');
    // The frame without a summary mapped to nothing: the report is the only lint_report received.
    expect(c.received('lint_report' as any)).toHaveLength(1);
  });

  it('(c) writes an audit row per session created and deleted into its own table of the tenant registry; (a) audit_log answers them', async () => {
    const tenant = uniqueName('audit');
    const owner = await connect(token(tenant, 'auth0|owner', 'owner'));
    const created = await owner.request<any>({ type: 'create_session', agentType: 'echo', name: 'A' });
    const other = await owner.request<any>({ type: 'create_session', agentType: 'echo', name: 'B' });
    await owner.request({ type: 'delete_session', sessionId: created.session.id });

    // The audit writes do not hold up the answers: wait for the three rows through the new message.
    let entries: any[] = [];
    for (let i = 0; i < 100 && entries.length < 3; i++) {
      const answer = await owner.request<any>(extensionFrame({ type: 'audit_log', requestId: `a${i}` }));
      expect(answer.type).toBe('audit_entries');
      entries = answer.entries;
      if (entries.length < 3) await new Promise((r) => setTimeout(r, 50));
    }
    expect(entries.map((e) => [e.action, e.sessionId])).toEqual([
      ['session.deleted', created.session.id],
      ['session.created', other.session.id],
      ['session.created', created.session.id],
    ]);
    expect(entries[2].actor).toBe('auth0|owner');

    const one = await owner.request<any>(
      extensionFrame({ type: 'audit_log', sessionId: other.session.id, limit: 5 }),
    );
    expect(one.entries.map((e: any) => e.action)).toEqual(['session.created']);

    const rows = await query<{ action: string; session_id: string }>(
      join(gw.dataDir, 'tenants', tenant, 'registry.db'),
      'SELECT action, session_id FROM audit_log ORDER BY id',
    );
    expect(rows).toEqual([
      { action: 'session.created', session_id: created.session.id },
      { action: 'session.created', session_id: other.session.id },
      { action: 'session.deleted', session_id: created.session.id },
    ]);
  });

  it('(c) writes an audit row for each turn started and ended, from the published session events', async () => {
    const owner = await connect(token(uniqueName('audit'), 'auth0|owner', 'owner'));
    const sessionId = (await owner.request<any>({ type: 'create_session', agentType: 'echo' })).session.id;
    await owner.request({ type: 'join_session', sessionId });
    const started = await owner.request<any>({ type: 'run_turn', sessionId, text: 'write hello' });
    await owner.waitFor('turn_complete', 15_000, true, (e) => e.turnId === started.turnId);

    let actions: string[] = [];
    for (let i = 0; i < 100 && actions.length < 3; i++) {
      const answer = await owner.request<any>(extensionFrame({ type: 'audit_log', sessionId }));
      actions = answer.entries.map((e: any) => e.action);
      if (actions.length < 3) await new Promise((r) => setTimeout(r, 50));
    }
    expect(actions).toEqual(['turn_complete', 'turn_started', 'session.created']);
    const rows = await query<{ action: string; detail: string | null }>(
      join(gw.dataDir, 'tenants', owner.identity!.tenantId, 'registry.db'),
      "SELECT action, detail FROM audit_log WHERE action LIKE 'turn_%' ORDER BY id",
    );
    expect(rows).toEqual([
      { action: 'turn_started', detail: started.turnId },
      { action: 'turn_complete', detail: started.turnId },
    ]);
  });

  it('(a) validates the contributed DTO and enforces its permission with protocol errors; the socket survives', async () => {
    const tenant = uniqueName('audit');
    const owner = await connect(token(tenant, 'auth0|owner', 'owner'));
    const bad = await outcome(
      owner.request(extensionFrame({ type: 'audit_log', limit: 0, requestId: 'r1' })),
    );
    expect(bad).toBe('INVALID_MESSAGE');
    const member = await connect(token(tenant, 'auth0|member', 'member'));
    expect(await outcome(member.request(extensionFrame({ type: 'audit_log' })))).toBe('FORBIDDEN');
    // A type nobody contributed is still unknown, and both sockets carry on.
    expect(await outcome(owner.request(extensionFrame({ type: 'audit_nope' })))).toBe('INVALID_MESSAGE');
    await expect(member.request({ type: 'list_sessions' })).resolves.toMatchObject({ type: 'session_list' });
    await expect(owner.request(extensionFrame({ type: 'audit_log' }))).resolves.toMatchObject({
      type: 'audit_entries',
      entries: [],
    });
  });
});

describe('the gateway without the extension', () => {
  let gw: GatewayProcess;
  beforeAll(async () => {
    gw = await startGateway({ NODE_ENV: 'development' });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('does not know audit_log and creates no audit table', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    try {
      const err = await c.request(extensionFrame({ type: 'audit_log', requestId: 'x1' })).catch((e) => e);
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe('INVALID_MESSAGE');
      await c.request({ type: 'create_session', agentType: 'echo' });
      const tables = await query<{ name: string }>(
        join(gw.dataDir, 'tenants', 'dev', 'registry.db'),
        "SELECT name FROM sqlite_master WHERE type = 'table'",
      );
      expect(tables.map((t) => t.name)).not.toContain('audit_log');
    } finally {
      await c.close();
    }
  });
});
