import { Logger } from '@nestjs/common';
import type { AuthIdentity } from '@app/auth';
import type { TenantId } from '@app/common';
import { CloseCode } from '@app/protocol';
import { recordingConnection } from '../../../../test/support/live-fixture';
import { encode, type InboundHeader } from './cluster-protocol';
import { eventually, SpecCluster, type SpecInstance } from './cluster.spec-helper';
import { Forwarder } from './forwarder.service';

/**
 * The client side of forwarding on real Redis: the Forwarder of instance A routes a client of a tenant
 * that instance B owns; B is a bus member in the same process whose inbox the spec reads and whose
 * deliveries it sends, exactly as B's RemoteHost would.
 */
describe('Forwarder (real Redis, two instances in one process)', () => {
  let cluster: SpecCluster;
  let a: SpecInstance;
  let b: SpecInstance;
  let forwarder: Forwarder;
  /** What reached B's inbox, in order. */
  let atOwner: { header: InboundHeader; body: string }[];
  let tenant: TenantId;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    cluster = new SpecCluster();
    a = await cluster.instance('a');
    b = await cluster.instance('b');
    forwarder = new Forwarder(a.config, a.bus, a.leases);
    forwarder.onModuleInit();
    atOwner = [];
    for (const kind of ['open', 'msg', 'ident', 'close'] as const) {
      b.bus.on(kind, (header, body) => atOwner.push({ header, body }));
    }
    tenant = `t-${cluster.prefix}` as TenantId;
    expect(await b.leases.resolve(tenant)).toEqual({ self: true });
  });

  afterEach(async () => {
    forwarder.onModuleDestroy();
    await cluster.close();
  });

  const identity = (): AuthIdentity => ({
    userId: 'u1',
    email: 'u1@example.com',
    tenantId: tenant,
    role: 'member',
    via: 'jwt',
  });

  /** A client of A, authenticated and forwarded to B (as ConnectionService binds it). */
  async function forwardedClient() {
    const client = recordingConnection();
    expect(await forwarder.route(client.conn, identity())).toBe('forwarded');
    client.conn.identity = identity();
    return client;
  }

  const kinds = () => atOwner.map((m) => m.header.k);

  it("announces the client to its tenant's owner and forwards its messages there in order", async () => {
    const { conn } = await forwardedClient();
    expect(conn.forward).toEqual({ owner: b.bus.member });
    expect(forwarder.count).toBe(1);
    const frames = Array.from({ length: 20 }, (_, i) => JSON.stringify({ type: 'ping', requestId: `r${i}` }));
    for (const frame of frames) forwarder.forward(conn, frame);
    await eventually(
      async () => atOwner.length,
      (n) => n === 21,
      10_000,
      'the messages at the owner',
    );
    expect(atOwner[0].header).toEqual({
      k: 'open',
      from: a.bus.member,
      c: conn.id,
      id: identity(),
      ip: conn.ip,
      v: conn.protocolVersion,
    });
    expect(atOwner.slice(1).map((m) => m.header)).toEqual(
      frames.map(() => ({ k: 'msg', from: a.bus.member, c: conn.id })),
    );
    expect(atOwner.slice(1).map((m) => m.body)).toEqual(frames);
  });

  it("sends the owner's frames to the client in order, skipping only ephemeral ones when it is congested", async () => {
    const { conn, socket } = await forwardedClient();
    const answers = Array.from({ length: 30 }, (_, i) => JSON.stringify({ type: 'pong', n: i }));
    answers.forEach((frame, i) =>
      b.bus.deliver(a.bus.member, { kind: 'frame', conn: conn.id, frame, ephemeral: i % 2 === 1 }),
    );
    await eventually(
      async () => socket.sent.length,
      (n) => n === 30,
      10_000,
      'the answers at the client',
    );
    expect(socket.sent).toEqual(answers);

    // Over the skip threshold (not the cut one): the client's instance drops what the owner marked ephemeral.
    socket.bufferedAmount = (1 << 20) + 1;
    b.bus.deliver(a.bus.member, { kind: 'frame', conn: conn.id, frame: '{"delta":1}', ephemeral: true });
    b.bus.deliver(a.bus.member, { kind: 'frame', conn: conn.id, frame: '{"durable":1}', ephemeral: false });
    await eventually(
      async () => socket.sent.length,
      (n) => n === 31,
      10_000,
      'the durable frame',
    );
    expect(socket.sent.at(-1)).toBe('{"durable":1}');
    expect(socket.sent).not.toContain('{"delta":1}');
    conn.close(CloseCode.NORMAL, 'done');
  });

  it('tells the owner when the client goes away, and closes the client when the owner closes it', async () => {
    const leaving = await forwardedClient();
    forwarder.closed(leaving.conn);
    expect(leaving.conn.forward).toBeUndefined();
    await eventually(
      async () => kinds(),
      (k) => k.includes('close'),
      10_000,
      'the close at the owner',
    );
    expect(atOwner.find((m) => m.header.k === 'close')!.header).toEqual({
      k: 'close',
      from: a.bus.member,
      c: leaving.conn.id,
    });

    const closed = await forwardedClient();
    expect(forwarder.count).toBe(1);
    b.bus.deliver(a.bus.member, {
      kind: 'close',
      conn: closed.conn.id,
      code: CloseCode.POLICY_VIOLATION,
      reason: 'role revoked',
    });
    await eventually(
      async () => closed.socket.closed,
      (c) => c !== undefined,
      10_000,
      'the client closed',
    );
    expect(closed.socket.closed).toEqual({ code: CloseCode.POLICY_VIOLATION, reason: 'role revoked' });
    expect(forwarder.count).toBe(0);
  });

  it('ignores what an instance other than the owner sends for the client', async () => {
    const { conn, socket } = await forwardedClient();
    const other = await cluster.instance('other');
    other.bus.deliver(a.bus.member, {
      kind: 'close',
      conn: conn.id,
      code: CloseCode.NORMAL,
      reason: 'not yours',
    });
    other.bus.deliver(a.bus.member, {
      kind: 'frame',
      conn: conn.id,
      frame: '{"from":"other"}',
      ephemeral: false,
    });
    other.bus.flush();
    await other.bus.commands!.ping(); // both published (in order on its link) before the owner's frame below
    b.bus.deliver(a.bus.member, {
      kind: 'frame',
      conn: conn.id,
      frame: '{"from":"owner"}',
      ephemeral: false,
    });
    await eventually(
      async () => socket.sent,
      (s) => s.includes('{"from":"owner"}'),
      10_000,
      "the owner's frame",
    );
    expect(socket.sent).toEqual(['{"from":"owner"}']);
    expect(socket.closed).toBeUndefined();
  });

  it('closes the clients of an owner whose process is gone with 1012, so they reconnect', async () => {
    const { socket } = await forwardedClient();
    await b.stop();
    await eventually(
      async () => socket.closed,
      (c) => c !== undefined,
      10_000,
      'the client closed',
    );
    expect(socket.closed).toEqual({ code: CloseCode.SERVICE_RESTART, reason: 'owning instance gone' });
    expect(forwarder.count).toBe(0);
  });

  it('drops unsigned and badly signed messages (counted), and keeps serving the genuine ones', async () => {
    const { conn, socket } = await forwardedClient();
    const close = encode({ k: 'out', from: b.bus.member, lists: [], ops: [['x', conn.id, 1000, 'forged']] });
    await cluster.publishRaw(a.bus.member, close);
    await cluster.publishRaw(a.bus.member, `-.999999.${close}`);
    const impostor = await cluster.instance('impostor', 'another-secret-of-at-least-32-characters!');
    impostor.bus.send(a.bus.member, JSON.parse(close));
    await eventually(
      async () => ({ ...a.bus.rejected }),
      (r) => r.unsigned === 2 && r.bad_signature === 1,
      10_000,
      'the forged messages dropped',
    );
    b.bus.deliver(a.bus.member, {
      kind: 'frame',
      conn: conn.id,
      frame: '{"genuine":true}',
      ephemeral: false,
    });
    await eventually(
      async () => socket.sent,
      (s) => s.length === 1,
      10_000,
      'the genuine frame',
    );
    expect(socket.sent).toEqual(['{"genuine":true}']);
    expect(socket.closed).toBeUndefined();
    expect(forwarder.count).toBe(1);
  });
});
