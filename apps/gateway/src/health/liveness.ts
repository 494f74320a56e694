import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const BODY = Buffer.from('{"status":"ok"}');

/**
 * The headers every HTTP answer carries (the same values main.ts gives helmet), set here because the
 * liveness answer does not go through Express.
 */
const HEADERS: Record<string, string | number> = {
  'Content-Type': 'application/json; charset=utf-8',
  'Content-Length': BODY.length,
  'Cache-Control': 'no-store',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none';frame-ancestors 'none'",
  'Cross-Origin-Resource-Policy': 'same-site',
};

/**
 * `GET /health/live` answered on the HTTP server itself, ahead of Express and Nest: the probe shows
 * that the event loop turns, and costs next to nothing (docs/benchmarks.md, P5). Every other request
 * goes to the application as before.
 */
export function installLiveness(server: Server): void {
  const app = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health/live' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, HEADERS);
      res.end(req.method === 'HEAD' ? undefined : BODY);
      return;
    }
    for (const listener of app) listener(req, res);
  });
}
