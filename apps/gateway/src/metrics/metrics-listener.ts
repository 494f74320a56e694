import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AllConfig } from '../config';
import { MetricsService } from './metrics.service';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * With METRICS_PORT, `/metrics` is served by its own small HTTP server on that port (same bind
 * address as the gateway), so a scraper can reach it without the public port exposing it; the main
 * port then answers 404 for `/metrics`. It starts with the application and stops at shutdown.
 */
@Injectable()
export class MetricsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private readonly port?: number;
  private readonly host: string;
  private server?: Server;

  constructor(
    private readonly metrics: MetricsService,
    config: ConfigService<AllConfig, true>,
  ) {
    const app = config.get('app', { infer: true });
    this.port = app.metricsEnabled ? app.metricsPort : undefined;
    this.host = app.host;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.port === undefined) return;
    const server = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not Found');
        return;
      }
      this.metrics.render().then(
        (text) => {
          res.writeHead(200, { 'Content-Type': CONTENT_TYPE, 'Cache-Control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          this.logger.error(`rendering metrics failed: ${(err as Error).message}`);
          res.writeHead(500).end();
        },
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.logger.log(`Metrics listening on ${this.host}:${port}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
