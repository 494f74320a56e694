import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { DiminuendoClient, ProtocolError } from '@app/client';
import type { SessionMeta } from '@app/protocol';
import { startGateway, tempDataDir, type GatewayProcess } from './support/gateway-process';
import { JwksServer } from './support/jwks-server';

function querySqlite<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(err);
      db.all(sql, (e, rows) => {
        db.close();
        if (e) reject(e);
        else resolve(rows as T[]);
      });
    });
  });
}

describe('session management (dev mode)', () => {
  let gw: GatewayProcess;
  /** DATA_DIR sits inside a directory of this test's own, so "outside DATA_DIR" can be checked. */
  let parent: string;
  beforeAll(async () => {
    parent = tempDataDir();
    gw = await startGateway({ NODE_ENV: 'development', DATA_DIR: join(parent, 'data') });
  });
  afterAll(async () => {
    await gw.stop();
  });

  it('creates, renames, lists, archives, unarchives and deletes, broadcasting each change to the tenant', async () => {
    const a = await DiminuendoClient.connect(gw.url);
    const b = await DiminuendoClient.connect(gw.url);

    const created = await a.request<any>({ type: 'create_session', agentType: 'echo', name: 'Demo' });
    const s: SessionMeta = created.session;
    expect(s).toMatchObject({
      name: 'Demo',
      agentType: 'echo',
      status: 'inactive',
      archived: false,
      tenantId: 'dev',
      createdBy: 'dev-user-001',
      projectId: null,
    });
    expect(s.id).toMatch(/^[0-9a-f-]{36}$/);
    const seenByB = await b.waitFor('session_created', 2000, true, (e) => e.session.id === s.id);
    expect(seenByB.session).toEqual(s);

    const renamed = await a.request<any>({ type: 'rename_session', sessionId: s.id, name: '  Renamed  ' });
    expect(renamed).toMatchObject({ type: 'session_renamed', sessionId: s.id, name: 'Renamed' });
    await b.waitFor('session_renamed', 2000, true, (e) => e.sessionId === s.id);

    const list = await b.request<any>({ type: 'list_sessions' });
    expect(list.sessions.map((x: SessionMeta) => [x.id, x.name])).toContainEqual([s.id, 'Renamed']);

    const archived = await a.request<any>({ type: 'archive_session', sessionId: s.id });
    expect(archived.session.archived).toBe(true);
    await b.waitFor('session_archived', 2000, true);
    const hidden = await a.request<any>({ type: 'list_sessions' });
    expect(hidden.sessions.some((x: SessionMeta) => x.id === s.id)).toBe(false);
    const shown = await a.request<any>({ type: 'list_sessions', includeArchived: true });
    expect(shown.sessions.find((x: SessionMeta) => x.id === s.id)?.archived).toBe(true);
    // Archiving is idempotent.
    await expect(a.request({ type: 'archive_session', sessionId: s.id })).resolves.toMatchObject({
      type: 'session_archived',
    });

    const unarchived = await a.request<any>({ type: 'unarchive_session', sessionId: s.id });
    expect(unarchived.session.archived).toBe(false);
    await b.waitFor('session_unarchived', 2000, true);

    const deleted = await a.request<any>({ type: 'delete_session', sessionId: s.id });
    expect(deleted).toEqual({ type: 'session_deleted', sessionId: s.id, requestId: deleted.requestId });
    await b.waitFor('session_deleted', 2000, true, (e) => e.sessionId === s.id);
    await expect(a.request({ type: 'rename_session', sessionId: s.id, name: 'x' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    expect(existsSync(join(gw.dataDir, 'sessions', s.id))).toBe(false);

    // The originator received each change exactly once (its direct answer), not again via the topic.
    expect(a.received('session_created').filter((e) => e.session.id === s.id)).toHaveLength(1);
    await Promise.all([a.close(), b.close()]);
  });

  it('keeps the tenant registry in WAL mode at DATA_DIR/tenants/dev/registry.db', async () => {
    const file = join(gw.dataDir, 'tenants', 'dev', 'registry.db');
    expect(existsSync(file)).toBe(true);
    const [mode] = await querySqlite<{ journal_mode: string }>(file, 'PRAGMA journal_mode');
    expect(mode.journal_mode).toBe('wal');
  });

  it('refuses path-like ids as unknown sessions without touching the filesystem', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const before = readdirSync(gw.dataDir).sort();
    const outside = readdirSync(parent).sort();
    for (const id of ['../x', '../../tenants/dev', 'a/b', '..', '%2e%2e', 'x'.repeat(129)]) {
      const err = await c.request({ type: 'delete_session', sessionId: id }).catch((e: ProtocolError) => e);
      expect([id, (err as ProtocolError).code]).toEqual([
        id,
        id.length > 128 ? 'INVALID_MESSAGE' : 'SESSION_NOT_FOUND',
      ]);
    }
    expect(readdirSync(gw.dataDir).sort()).toEqual(before);
    expect(readdirSync(parent).sort()).toEqual(outside);
    await c.close();
  });

  it('validates names', async () => {
    const c = await DiminuendoClient.connect(gw.url);
    const { session } = await c.request<any>({ type: 'create_session', agentType: 'echo' });
    expect(session.name).toBe('New session');
    await expect(
      c.request({ type: 'rename_session', sessionId: session.id, name: '   ' }),
    ).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    await expect(
      c.request({ type: 'rename_session', sessionId: session.id, name: 'n'.repeat(201) }),
    ).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    await c.close();
  });
});

describe('tenants, roles and members (production auth)', () => {
  const ROLES_CLAIM = 'https://diminuendo.dev/roles';
  let jwks: JwksServer;
  let gw: GatewayProcess;
  const token = (sub: string, tenant: string, roles?: string[] | string) =>
    jwks.sign({ sub, tenant_id: tenant, ...(roles ? { [ROLES_CLAIM]: roles } : {}) });

  beforeAll(async () => {
    jwks = await new JwksServer().start();
    gw = await startGateway({
      NODE_ENV: 'production',
      AUTH_URL: jwks.url,
      AUTH_AUDIENCE: 'diminuendo-api',
      AUTH_ROLES_CLAIM: ROLES_CLAIM,
    });
  });
  afterAll(async () => {
    await gw.stop();
    await jwks.stop();
  });

  it('never shows one tenant the sessions or topics of another', async () => {
    const acme = await DiminuendoClient.connect(gw.url, { token: token('auth0|a', 'acme') });
    const globex = await DiminuendoClient.connect(gw.url, { token: token('auth0|g', 'globex', 'owner') });
    const { session } = await acme.request<any>({
      type: 'create_session',
      agentType: 'echo',
      name: 'secret plans',
    });
    const list = await globex.request<any>({ type: 'list_sessions', includeArchived: true });
    expect(list.sessions).toEqual([]);
    for (const type of ['rename_session', 'archive_session', 'delete_session'] as const) {
      const msg =
        type === 'rename_session'
          ? { type, sessionId: session.id, name: 'pwned' }
          : { type, sessionId: session.id };
      await expect(globex.request(msg as any)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(globex.received('session_created', 'session_renamed', 'session_deleted')).toEqual([]);
    expect(existsSync(join(gw.dataDir, 'tenants', 'acme', 'registry.db'))).toBe(true);
    expect(existsSync(join(gw.dataDir, 'tenants', 'globex', 'registry.db'))).toBe(true);
    const acmeList = await acme.request<any>({ type: 'list_sessions' });
    expect(acmeList.sessions[0].name).toBe('secret plans');
    await Promise.all([acme.close(), globex.close()]);
  });

  it('enforces the permission matrix: a viewer cannot create, a member cannot delete', async () => {
    const owner = await DiminuendoClient.connect(gw.url, { token: token('auth0|o', 'initech', 'owner') });
    const member = await DiminuendoClient.connect(gw.url, { token: token('auth0|m', 'initech') });
    const viewer = await DiminuendoClient.connect(gw.url, { token: token('auth0|v', 'initech', ['viewer']) });
    expect([owner.identity?.role, member.identity?.role, viewer.identity?.role]).toEqual([
      'owner',
      'member',
      'viewer',
    ]);

    await expect(viewer.request({ type: 'create_session', agentType: 'echo' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    const { session } = await member.request<any>({ type: 'create_session', agentType: 'echo' });
    await expect(viewer.request({ type: 'list_sessions' })).resolves.toMatchObject({ type: 'session_list' });
    await expect(
      viewer.request({ type: 'rename_session', sessionId: session.id, name: 'x' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(member.request({ type: 'delete_session', sessionId: session.id })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(member.request({ type: 'manage_members', action: 'list' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    await expect(owner.request({ type: 'delete_session', sessionId: session.id })).resolves.toMatchObject({
      type: 'session_deleted',
    });
    await Promise.all([owner.close(), member.close(), viewer.close()]);
  });

  it('manages members: add, update_role, remove, the last owner protected, roles applied live', async () => {
    const owner = await DiminuendoClient.connect(gw.url, { token: token('auth0|boss', 'umbrella', 'owner') });
    const bob = await DiminuendoClient.connect(gw.url, { token: token('auth0|bob', 'umbrella') });

    // Make the owner a member row, so the last-owner rule applies to rows.
    let list = await owner.request<any>({
      type: 'manage_members',
      action: 'add',
      userId: 'auth0|boss',
      role: 'owner',
      email: 'boss@u.test',
    });
    expect(list.members).toEqual([
      expect.objectContaining({ userId: 'auth0|boss', role: 'owner', email: 'boss@u.test' }),
    ]);
    list = await owner.request<any>({ type: 'manage_members', action: 'add', userId: 'auth0|bob' });
    expect(list.members.find((m: any) => m.userId === 'auth0|bob').role).toBe('member');

    await expect(bob.request({ type: 'delete_session', sessionId: 'whatever' })).rejects.toMatchObject({
      code: 'FORBIDDEN',
    });
    list = await owner.request<any>({
      type: 'manage_members',
      action: 'update_role',
      userId: 'auth0|bob',
      role: 'admin',
    });
    expect(list.members.find((m: any) => m.userId === 'auth0|bob').role).toBe('admin');
    // Bob's live connection has the new role: delete is now allowed (and the session is simply unknown).
    await expect(bob.request({ type: 'delete_session', sessionId: 'whatever' })).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    // An admin cannot grant owner, nor a role on a member above their own.
    await expect(
      bob.request({ type: 'manage_members', action: 'add', userId: 'auth0|eve', role: 'owner' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });
    // An admin lacks member:delete.
    await expect(
      bob.request({ type: 'manage_members', action: 'remove', userId: 'auth0|boss' }),
    ).rejects.toMatchObject({ code: 'FORBIDDEN' });

    await expect(
      owner.request({ type: 'manage_members', action: 'update_role', userId: 'auth0|boss', role: 'admin' }),
    ).rejects.toMatchObject({ code: 'LAST_OWNER' });
    await expect(
      owner.request({ type: 'manage_members', action: 'remove', userId: 'auth0|boss' }),
    ).rejects.toMatchObject({ code: 'LAST_OWNER' });
    await expect(
      owner.request({ type: 'manage_members', action: 'remove', userId: 'auth0|nobody' }),
    ).rejects.toMatchObject({ code: 'MEMBER_NOT_FOUND' });
    await expect(
      owner.request({ type: 'manage_members', action: 'update_role', userId: 'auth0|bob' } as any),
    ).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });
    await expect(
      owner.request({ type: 'manage_members', action: 'add', userId: 'auth0|x', role: 'emperor' } as any),
    ).rejects.toMatchObject({ code: 'INVALID_MESSAGE' });

    list = await owner.request<any>({ type: 'manage_members', action: 'remove', userId: 'auth0|bob' });
    expect(list.members.map((m: any) => m.userId)).toEqual(['auth0|boss']);
    await Promise.all([owner.close(), bob.close()]);
  });
});
