import type { IncomingMessage } from 'node:http';
import { Logger } from '@nestjs/common';
import pino from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AuthIdentity } from '@app/auth';
import type { TenantId } from '@app/common';
import { CloseCode } from '@app/protocol';
import { Connection } from '../connection/connection';
import { ConnectionRegistry } from '../connection/connection-registry';
import type { ConnectionService } from '../connection/connection.service';
import { LifecycleState } from '../connection/lifecycle.state';
import { RemoteSocket } from '../connection/remote-socket';
import { WsServerRef } from '../connection/ws-server-ref';
import { encode, unpackDeliveries, type InboundHeader } from './cluster-protocol';
import { eventually, SpecCluster, type SpecInstance } from './cluster.spec-helper';
import { RemoteHost } from './remote-host.service';

type Op = ReturnType<typeof unpackDeliveries> extends Generator<infer T> ? T : never;

/** A client of instance A hosted on B, the owner of its tenant. */
interface Hosted {
  socket: RemoteSocket;
  conn: Connection;
  /** The client's forwarded messages, as the connection's socket received them. */
  messages: string[];
  req: IncomingMessage;
}

/**
 * The owner side of forwarding on real Redis: the RemoteHost of instance B, owner of the tenant, hosts
 * the clients of instance A, a bus member in the same process whose messages the spec sends and whose
 * inbox it reads, exactly as A's Forwarder would. Hosted sockets are announced on a real ws server (no
 * listener), where the spec makes each a Connection as the gateway does.
 */
describe('RemoteHost (real Redis, two instances in one process)', () => {
  let cluster: SpecCluster;
  let a: SpecInstance;
  let b: SpecInstance;
  let host: RemoteHost;
  let server: WebSocketServer;
  let registry: ConnectionRegistry;
  let hosted: Hosted[];
  let rebinds: { conn: Connection; identity: AuthIdentity }[];
  /** What reached A's inbox from B, in order. */
  let atClient: Op[];
  let tenant: TenantId;
  let ids = 0;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    cluster = new SpecCluster();
    a = await cluster.instance('a');
    b = await cluster.instance('b');
    tenant = `t-${cluster.prefix}` as TenantId;
    expect(await b.leases.resolve(tenant)).toEqual({ self: true });

    server = new WebSocketServer({ noServer: true });
    registry = new ConnectionRegistry();
    hosted = [];
    server.on('connection', (socket: RemoteSocket, req: IncomingMessage) => {
      const conn = new Connection(
        socket.connId,
        socket as unknown as WebSocket,
        socket.ip,
        socket.protocolVersion,
        pino({ level: 'silent' }),
        { max: 1000, windowMs: 10_000 },
        { skipBytes: 1 << 20, closeBytes: 1 << 22, stallMs: 60_000 },
      );
      registry.add(conn);
      const messages: string[] = [];
      socket.on('message', (data: Buffer) => messages.push(data.toString('utf8')));
      hosted.push({ socket, conn, messages, req });
    });
    const ws = new WsServerRef();
    ws.server = server;
    rebinds = [];
    const connections = {
      rebindRemote: (conn: Connection, identity: AuthIdentity) => rebinds.push({ conn, identity }),
    } as unknown as ConnectionService;
    host = new RemoteHost(b.config, b.bus, b.leases, ws, new LifecycleState(), connections, registry);
    host.onModuleInit();

    atClient = [];
    a.bus.on('out', (header, body) => {
      for (const op of unpackDeliveries(header, body)) atClient.push(op);
    });
  });

  afterEach(async () => {
    host.onModuleDestroy();
    server.close();
    await cluster.close();
  });

  const identity = (tenantId = tenant): AuthIdentity => ({
    userId: 'u1',
    email: 'u1@example.com',
    tenantId,
    role: 'member',
    via: 'jwt',
  });

  function open(c: string, tenantId = tenant): void {
    a.bus.send(b.bus.member, {
      k: 'open',
      from: a.bus.member,
      c,
      id: identity(tenantId),
      ip: '10.0.0.7',
      v: 2,
    });
  }

  /** A client of A, announced to B and hosted there. */
  async function hostedClient(): Promise<Hosted> {
    const c = `c${++ids}`;
    open(c);
    await eventually(
      async () => hosted.find((h) => h.socket.connId === c),
      Boolean,
      10_000,
      'the client hosted',
    );
    return hosted.find((h) => h.socket.connId === c)!;
  }

  const closes = () => atClient.filter((op) => op.kind === 'close');

  it("hosts another instance's client as a connection of its own and passes its messages in order", async () => {
    const client = await hostedClient();
    expect(client.socket).toBeInstanceOf(RemoteSocket);
    expect(client.socket).toMatchObject({
      member: a.bus.member,
      identity: identity(),
      ip: '10.0.0.7',
      protocolVersion: 2,
    });
    expect(client.req.url).toBe('/ws');
    expect(client.conn.remote).toBe(true);
    expect(host.count).toBe(1);

    const frames = Array.from({ length: 20 }, (_, i) => JSON.stringify({ type: 'ping', requestId: `r${i}` }));
    for (const frame of frames) {
      a.bus.send(b.bus.member, { k: 'msg', from: a.bus.member, c: client.socket.connId }, frame);
    }
    await eventually(
      async () => client.messages.length,
      (n) => n === 20,
      10_000,
      'the messages',
    );
    expect(client.messages).toEqual(frames);
  });

  it("relays the connection's frames to the client's instance in order, with their ephemeral flag", async () => {
    const client = await hostedClient();
    const frames = Array.from({ length: 10 }, (_, i) => JSON.stringify({ type: 'text_delta', n: i }));
    frames.forEach((frame, i) => client.conn.sendFrame(frame, i % 3 === 0));
    client.conn.send({ type: 'pong' } as never);
    await eventually(
      async () => atClient.length,
      (n) => n === 11,
      10_000,
      'the relayed frames',
    );
    expect(atClient).toEqual([
      ...frames.map((frame, i) => ({
        kind: 'frame',
        ids: [client.socket.connId],
        ephemeral: i % 3 === 0,
        frame,
      })),
      { kind: 'frame', ids: [client.socket.connId], ephemeral: false, frame: '{"type":"pong"}' },
    ]);
  });

  it("closes the client's socket on its instance when closed here, and closes here when the client goes away", async () => {
    const revoked = await hostedClient();
    revoked.conn.close(CloseCode.POLICY_VIOLATION, 'role revoked');
    await eventually(
      async () => closes(),
      (c) => c.length === 1,
      10_000,
      'the close at the client',
    );
    expect(closes()).toEqual([
      {
        kind: 'close',
        conn: revoked.socket.connId,
        code: CloseCode.POLICY_VIOLATION,
        reason: 'role revoked',
      },
    ]);
    await eventually(
      async () => host.count,
      (n) => n === 0,
      10_000,
      'the socket forgotten',
    );

    const leaving = await hostedClient();
    const closed: number[] = [];
    leaving.socket.on('close', (code: number) => closed.push(code));
    a.bus.send(b.bus.member, { k: 'close', from: a.bus.member, c: leaving.socket.connId });
    await eventually(
      async () => closed,
      (c) => c.length === 1,
      10_000,
      'the hosted socket closed',
    );
    expect(host.count).toBe(0);
    expect(closes()).toHaveLength(1); // nothing is sent back for a client that left
  });

  it('refuses, with 1012, a client whose tenant it does not own and a message for a client it does not host', async () => {
    open('stranger', `elsewhere-${cluster.prefix}` as TenantId);
    a.bus.send(b.bus.member, { k: 'msg', from: a.bus.member, c: 'unknown' }, '{"type":"ping"}');
    await eventually(
      async () => closes(),
      (c) => c.length === 2,
      10_000,
      'the refusals',
    );
    expect(closes()).toEqual([
      { kind: 'close', conn: 'stranger', code: CloseCode.SERVICE_RESTART, reason: 'tenant not served here' },
      {
        kind: 'close',
        conn: 'unknown',
        code: CloseCode.SERVICE_RESTART,
        reason: 'not hosted here; reconnect',
      },
    ]);
    expect(hosted).toEqual([]);
  });

  it('rebinds a hosted client re-authenticated on its instance', async () => {
    const client = await hostedClient();
    const refreshed = { ...identity(), role: 'admin' as const };
    a.bus.send(b.bus.member, { k: 'ident', from: a.bus.member, c: client.socket.connId, id: refreshed });
    await eventually(
      async () => rebinds.length,
      (n) => n === 1,
      10_000,
      'the rebind',
    );
    expect(rebinds[0].conn).toBe(client.conn);
    expect(rebinds[0].identity).toEqual(refreshed);
  });

  it('closes the clients of an instance whose process is gone', async () => {
    const client = await hostedClient();
    const closed: number[] = [];
    client.socket.on('close', (code: number) => closed.push(code));
    await a.stop();
    await eventually(
      async () => closed,
      (c) => c.length === 1,
      10_000,
      'the hosted socket closed',
    );
    expect(closed).toEqual([CloseCode.SERVICE_RESTART]);
    expect(host.count).toBe(0);
  });

  it('drops unsigned and badly signed messages (counted): nobody is hosted on their word', async () => {
    const forged: InboundHeader = {
      k: 'open',
      from: a.bus.member,
      c: 'forged',
      id: identity(),
      ip: '10.6.6.6',
      v: 1,
    };
    await cluster.publishRaw(b.bus.member, encode(forged));
    const impostor = await cluster.instance('impostor', 'another-secret-of-at-least-32-characters!');
    impostor.bus.send(b.bus.member, forged);
    await eventually(
      async () => ({ ...b.bus.rejected }),
      (r) => r.unsigned === 1 && r.bad_signature === 1,
      10_000,
      'the forged messages dropped',
    );
    const genuine = await hostedClient();
    expect(hosted).toEqual([genuine]);
    expect(host.count).toBe(1);
  });
});
