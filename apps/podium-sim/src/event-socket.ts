/** Upgrade handling for the per-instance event WebSocket. */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { HttpError, decodeSegment } from './http-util';
import type { SimState } from './state';

const MAX_INBOUND_FRAME_BYTES = 16 * 1024 * 1024;

export interface EventSocketServer {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function createEventSocketServer(
  state: SimState,
  authorize: (header: string | undefined) => boolean,
): EventSocketServer {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_INBOUND_FRAME_BYTES });
  const pattern = templateToRegExp(state.options.wsPathTemplate);

  return {
    handleUpgrade(req, socket, head) {
      socket.on('error', () => undefined);
      const traceparent = req.headers.traceparent;
      if (typeof traceparent === 'string') state.counters.lastStreamTraceparent = traceparent;
      const match = pattern.exec((req.url ?? '/').split('?', 1)[0]);
      if (!match) return refuse(socket, 404, 'no such route');
      if (!authorize(req.headers.authorization)) {
        state.log('event socket refused: missing or invalid bearer key');
        return refuse(socket, 401, 'missing or invalid bearer key');
      }
      let id: string;
      try {
        id = decodeSegment(match[1]);
      } catch (err) {
        return refuse(socket, 400, (err as HttpError).message);
      }
      const instance = state.instances.get(id);
      if (!instance) return refuse(socket, 404, `instance ${id} not found`);
      wss.handleUpgrade(req, socket, head, (ws) => instance.attach(ws));
    },
    close() {
      wss.close();
    },
  };
}

/** `/api/v1/instances/{instanceId}/ws` → `^/api/v1/instances/([^/]+)/ws/?$` */
export function templateToRegExp(template: string): RegExp {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const [before, after] = template.split('{instanceId}', 2);
  return new RegExp(`^${escape(before)}([^/]+)${escape(after.replace(/\/$/, ''))}/?$`);
}

function refuse(socket: Duplex, status: number, error: string): void {
  const body = JSON.stringify({ error });
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found' }[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}
