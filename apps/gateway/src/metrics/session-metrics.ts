import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry } from 'prom-client';
import { SessionStore } from '@app/persistence';
import { SESSION_STATES } from '@app/protocol';
import { ConnectionRegistry } from '../connection/connection-registry';
import { EventPublisher } from '../live/event-publisher';
import { LiveSessions } from '../live/live-sessions';

/**
 * This instance's own state, read at scrape time: open connections, sessions in memory by state,
 * the writer's queue depth, and the events published (from the publisher's counters, so nothing is
 * added to the publishing path).
 */
@Injectable()
export class SessionMetrics {
  constructor(
    registry: Registry,
    connections: ConnectionRegistry,
    live: LiveSessions,
    publisher: EventPublisher,
    store: SessionStore,
  ) {
    const registers = [registry];
    new Gauge({
      name: 'diminuendo_ws_connections',
      help: 'Open WebSocket connections',
      registers,
      collect() {
        this.set(connections.size);
      },
    });
    new Gauge({
      name: 'diminuendo_active_sessions',
      help: 'Sessions held in memory, by state',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = live.countByState();
        for (const s of SESSION_STATES) this.set({ state: s }, counts[s]);
      },
    });
    const writer = store.writer;
    new Gauge({
      name: 'diminuendo_db_write_queue_depth',
      help: 'Commands buffered in the batched writer',
      registers,
      collect() {
        this.set(writer.queueDepth);
      },
    });
    let lastPublished = 0;
    let lastDurable = 0;
    new Counter({
      name: 'diminuendo_events_published_total',
      help: 'Session events published, by durability',
      labelNames: ['durable'],
      registers,
      collect() {
        const { published: p, durable: d } = publisher.stats;
        this.inc({ durable: 'true' }, d - lastDurable);
        this.inc({ durable: 'false' }, p - d - (lastPublished - lastDurable));
        lastPublished = p;
        lastDurable = d;
      },
    });
  }
}
