import { Injectable, type OnModuleInit } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AuthService } from '@app/auth';
import { SessionStore } from '@app/persistence';
import { PodiumClient } from '@app/podium';
import { SESSION_STATES } from '@app/protocol';
import { ConnectionRegistry } from '../connection/connection-registry';
import { EventPublisher } from '../live/event-publisher';
import { LiveSessions } from '../live/live-sessions';
import { OnGatewayEvent, type GatewayEventMap } from '../connection/gateway-events';
import { Forwarder } from '../cluster/forwarder.service';
import { TenantLeases } from '../cluster/tenant-leases';
import { ClusterBus } from '../cluster/cluster-bus';
import { REJECT_REASONS } from '../cluster/cluster-protocol';
import { RemoteHost } from '../cluster/remote-host.service';

/**
 * Prometheus metrics (prom-client): connections, sessions by state, events published and persisted,
 * writer queue depth and flush latency, Podium call latency and errors, auth failures, rate-limit
 * hits, errors by code, plus Node's default process metrics.
 */
@Injectable()
export class MetricsService implements OnModuleInit {
  readonly registry = new Registry();
  private errorsSent?: Counter;
  private rateLimited?: Counter;

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly live: LiveSessions,
    private readonly publisher: EventPublisher,
    private readonly store: SessionStore,
    private readonly podium: PodiumClient,
    private readonly auth: AuthService,
    private readonly leases: TenantLeases,
    private readonly forwarder: Forwarder,
    private readonly remotes: RemoteHost,
    private readonly bus: ClusterBus,
  ) {}

  onModuleInit(): void {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'diminuendo_' });
    const connections = this.connections;
    const live = this.live;
    const writer = this.store.writer;

    new Gauge({
      name: 'diminuendo_ws_connections',
      help: 'Open WebSocket connections',
      registers: [r],
      collect() {
        this.set(connections.size);
      },
    });
    new Gauge({
      name: 'diminuendo_active_sessions',
      help: 'Sessions held in memory, by state',
      labelNames: ['state'],
      registers: [r],
      collect() {
        const counts = live.countByState();
        for (const s of SESSION_STATES) this.set({ state: s }, counts[s]);
      },
    });
    if (this.leases.enabled) {
      const { leases, forwarder, remotes } = this;
      new Gauge({
        name: 'diminuendo_tenants_owned',
        help: 'Tenants whose lease this instance holds (lease mode)',
        registers: [r],
        collect() {
          this.set(leases.heldTenants().length);
        },
      });
      new Gauge({
        name: 'diminuendo_forwarded_clients',
        help: 'Clients connected here whose tenant is owned by another instance (lease mode)',
        registers: [r],
        collect() {
          this.set(forwarder.count);
        },
      });
      new Gauge({
        name: 'diminuendo_hosted_clients',
        help: 'Clients of other instances hosted here as owner (lease mode; also in ws_connections)',
        registers: [r],
        collect() {
          this.set(remotes.count);
        },
      });
      const bus = this.bus;
      new Counter({
        name: 'diminuendo_cluster_bus_rejected_total',
        help: 'Messages from other instances dropped unread (lease mode), by reason: unsigned, bad_signature, replayed, malformed',
        labelNames: ['reason'],
        registers: [r],
        collect() {
          this.reset();
          for (const reason of REJECT_REASONS) this.inc({ reason }, bus.rejected[reason]);
        },
      });
    }
    new Gauge({
      name: 'diminuendo_db_write_queue_depth',
      help: 'Commands buffered in the batched writer',
      registers: [r],
      collect() {
        this.set(writer.queueDepth);
      },
    });

    const published = new Counter({
      name: 'diminuendo_events_published_total',
      help: 'Session events published, by durability',
      labelNames: ['durable'],
      registers: [r],
    });
    // Counted from the publisher's own counters at scrape time: nothing added to the hot path.
    let lastPublished = 0;
    let lastDurable = 0;
    const publisher = this.publisher;
    const syncPublished = () => {
      const { published: p, durable: d } = publisher.stats;
      published.inc({ durable: 'true' }, d - lastDurable);
      published.inc({ durable: 'false' }, p - d - (lastPublished - lastDurable));
      lastPublished = p;
      lastDurable = d;
    };
    const persisted = new Counter({
      name: 'diminuendo_db_rows_written_total',
      help: 'Rows committed by the batched writer',
      registers: [r],
    });
    const flushes = new Histogram({
      name: 'diminuendo_db_write_batch_seconds',
      help: 'Duration of one writer flush',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [r],
    });
    writer.setFlushObserver(({ durationMs, rows }) => {
      flushes.observe(durationMs / 1000);
      persisted.inc(rows);
    });

    const podiumCalls = new Histogram({
      name: 'diminuendo_podium_request_seconds',
      help: 'Podium HTTP calls by route and outcome',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [r],
    });
    const podiumErrors = new Counter({
      name: 'diminuendo_podium_errors_total',
      help: 'Failed Podium calls by kind',
      labelNames: ['kind'],
      registers: [r],
    });
    this.podium.setObserver((info) => {
      podiumCalls.observe(
        { method: info.method, route: info.route, status: String(info.status ?? 'none') },
        info.durationMs / 1000,
      );
      if (!info.ok) podiumErrors.inc({ kind: info.kind ?? 'http' });
    });

    const authFailures = new Counter({
      name: 'diminuendo_auth_failures_total',
      help: 'Failed authentications, by reason',
      labelNames: ['reason'],
      registers: [r],
    });
    this.auth.setObserver({ onFailure: (reason) => authFailures.inc({ reason }) });

    this.errorsSent = new Counter({
      name: 'diminuendo_errors_total',
      help: 'error events sent, by code',
      labelNames: ['code'],
      registers: [r],
    });
    this.rateLimited = new Counter({
      name: 'diminuendo_rate_limited_total',
      help: 'Messages refused by a rate limit, by kind',
      labelNames: ['kind'],
      registers: [r],
    });
    this.beforeScrape = syncPublished;
  }

  private beforeScrape: () => void = () => undefined;

  @OnGatewayEvent('connection.error_sent')
  errorSent({ code }: GatewayEventMap['connection.error_sent']): void {
    this.errorsSent?.inc({ code });
    if (code === 'RATE_LIMITED') this.rateLimited?.inc({ kind: 'connection' });
    if (code === 'AUTH_RATE_LIMITED') this.rateLimited?.inc({ kind: 'auth_ip' });
  }

  async render(): Promise<string> {
    this.beforeScrape();
    return this.registry.metrics();
  }
}
