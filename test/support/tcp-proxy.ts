import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A TCP forwarder on loopback to a real service (the gateway, PostgreSQL, Redis) that the test
 * controls: `dropAll()` destroys every open connection (a client sees an abnormal close, 1006),
 * `freezeAll()` stops forwarding without closing (a dead network path), `cut()` also stops listening
 * and `restore()` listens again on the same port.
 */
export class TcpProxy {
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;
  private server?: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Every open socket, frozen ones included. */
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<this> {
    this.server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.targetPort, this.targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      this.sockets.add(client).add(upstream);
      const end = () => {
        this.pairs.delete(pair);
        this.sockets.delete(client);
        this.sockets.delete(upstream);
        client.destroy();
        upstream.destroy();
      };
      for (const s of pair) s.on('error', end).on('close', end);
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  dropAll(): void {
    for (const [a, b] of [...this.pairs]) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  freezeAll(): void {
    for (const [a, b] of [...this.pairs]) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
    this.pairs.clear();
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.pairs.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise((r) => server.close(r));
  }

  restore(): Promise<this> {
    return this.start(this.port);
  }

  close(): Promise<void> {
    return this.cut();
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }
}

export function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  return new TcpProxy(targetHost, targetPort).start();
}
