/**
 * Podium coordinator simulator: the REST + event-socket contract Podium speaks, on plain
 * `node:http` and `ws`, with scripted agents and a test-only `/_sim/` control API.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolveOptions, type PodiumSimOptions } from './config';
import { handleControl } from './control-api';
import { createEventSocketServer } from './event-socket';
import { HttpError, makeAuthorizer, parseUrl, sendJson } from './http-util';
import { handleApi } from './routes';
import { createState, type SimState } from './state';

export type { PodiumSimOptions } from './config';

export interface PodiumSimHandle {
  /** Base URL, e.g. `http://127.0.0.1:5082` (use as the gateway's `PODIUM_URL`). */
  url: string;
  port: number;
  /** Event-socket URL of an instance (`ws://…` + the path template). */
  wsUrl(instanceId: string): string;
  /** Cancels turns, closes event sockets (1001) and stops listening. */
  close(): Promise<void>;
}

export async function startPodiumSim(opts: PodiumSimOptions = {}): Promise<PodiumSimHandle> {
  const options = resolveOptions(opts);
  const state = createState(options);
  const authorize = makeAuthorizer(options.apiKey);
  const events = createEventSocketServer(state, authorize);

  const server = createServer((req, res) => {
    dispatch(state, authorize, req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      if (status === 500 && !(err instanceof HttpError)) state.log(`internal error: ${message}`);
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.end();
    });
  });
  server.on('upgrade', (req, socket, head) => events.handleUpgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    wsUrl: (instanceId) =>
      `ws://${host}:${port}${options.wsPathTemplate.replace('{instanceId}', encodeURIComponent(instanceId))}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const instance of state.instances.values()) instance.shutdown();
        events.close();
        server.close(() => {
          state.log('closed');
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function dispatch(
  state: SimState,
  authorize: (header: string | undefined) => boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { segments, query } = parseUrl(req.url ?? '/');
  if (segments[0] === '_sim') return handleControl(state, req, res, segments);
  const traceparent = req.headers.traceparent;
  if (typeof traceparent === 'string') state.counters.lastTraceparent = traceparent;
  if (!authorize(req.headers.authorization)) {
    state.log(`${req.method} refused: missing or invalid bearer key`);
    throw new HttpError(401, 'missing or invalid bearer key');
  }
  return handleApi(state, req, res, segments, query);
}
