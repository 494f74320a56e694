import { Injectable } from '@nestjs/common';
import { Counter, Histogram, Registry } from 'prom-client';
import { OnGatewayEvent, type GatewayEventMap } from '../connection/gateway-events';

/**
 * Metrics counted from in-process events (`GatewayEventMap`): the writer's batches
 * (`persistence.flushed`), Podium calls (`podium.call`), refused authentications (`auth.failed`) and
 * the `error` events sent to clients (`connection.error_sent`).
 */
@Injectable()
export class ReportedMetrics {
  private readonly rowsWritten: Counter;
  private readonly flushes: Histogram;
  private readonly podiumCalls: Histogram;
  private readonly podiumErrors: Counter;
  private readonly authFailures: Counter;
  private readonly errorsSent: Counter;
  private readonly rateLimited: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.rowsWritten = new Counter({
      name: 'diminuendo_db_rows_written_total',
      help: 'Rows committed by the batched writer',
      registers,
    });
    this.flushes = new Histogram({
      name: 'diminuendo_db_write_batch_seconds',
      help: 'Duration of one writer flush',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.podiumCalls = new Histogram({
      name: 'diminuendo_podium_request_seconds',
      help: 'Podium HTTP calls by route and outcome',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.podiumErrors = new Counter({
      name: 'diminuendo_podium_errors_total',
      help: 'Failed Podium calls by kind',
      labelNames: ['kind'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'diminuendo_auth_failures_total',
      help: 'Failed authentications, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.errorsSent = new Counter({
      name: 'diminuendo_errors_total',
      help: 'error events sent, by code',
      labelNames: ['code'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'diminuendo_rate_limited_total',
      help: 'Messages refused by a rate limit, by kind',
      labelNames: ['kind'],
      registers,
    });
  }

  @OnGatewayEvent('persistence.flushed')
  writerFlushed({ durationMs, rows }: GatewayEventMap['persistence.flushed']): void {
    this.flushes.observe(durationMs / 1000);
    this.rowsWritten.inc(rows);
  }

  @OnGatewayEvent('podium.call')
  podiumCall(info: GatewayEventMap['podium.call']): void {
    this.podiumCalls.observe(
      { method: info.method, route: info.route, status: String(info.status ?? 'none') },
      info.durationMs / 1000,
    );
    if (!info.ok) this.podiumErrors.inc({ kind: info.kind ?? 'http' });
  }

  @OnGatewayEvent('auth.failed')
  authFailed({ reason }: GatewayEventMap['auth.failed']): void {
    this.authFailures.inc({ reason });
  }

  @OnGatewayEvent('connection.error_sent')
  errorSent({ code }: GatewayEventMap['connection.error_sent']): void {
    this.errorsSent.inc({ code });
    if (code === 'RATE_LIMITED') this.rateLimited.inc({ kind: 'connection' });
    if (code === 'AUTH_RATE_LIMITED') this.rateLimited.inc({ kind: 'auth_ip' });
  }
}
