import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP proxy the test controls: it can cut every connection at once, or freeze them (no bytes, no close). */
export interface TcpProxy {
  url: string;
  port: number;
  /** Destroys every open connection (the client sees an abnormal close, 1006). */
  dropAll(): void;
  /** Stops forwarding on every open connection without closing it (a dead network path). */
  freezeAll(): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((client) => {
    accepted++;
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    sockets.add(client).add(upstream);
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      pairs.delete(pair);
      sockets.delete(client);
      sockets.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get accepted() {
      return accepted;
    },
    dropAll() {
      for (const [a, b] of [...pairs]) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    freezeAll() {
      for (const [a, b] of [...pairs]) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
      pairs.clear();
    },
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}
