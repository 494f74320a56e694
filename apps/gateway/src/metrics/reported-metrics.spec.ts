import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { EventEmitter2, EventEmitterModule } from '@nestjs/event-emitter';
import { Test, type TestingModule } from '@nestjs/testing';
import type { SessionId } from '@app/common';
import { PERSISTENCE_OPTIONS, SessionStore } from '@app/persistence';
import { GatewayEvents } from '../connection/gateway-events';
import { METRICS_REGISTRY } from './metrics-registry';
import { MetricsService } from './metrics.service';
import { ReportedMetrics } from './reported-metrics';

/** The collectors wired by Nest's event-emitter module: no setter, any number of listeners. */
describe('ReportedMetrics', () => {
  let app: TestingModule;
  let dataDir: string;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'reported-metrics-'));
    app = await Test.createTestingModule({
      imports: [EventEmitterModule.forRoot()],
      providers: [
        METRICS_REGISTRY,
        ReportedMetrics,
        MetricsService,
        GatewayEvents,
        SessionStore,
        {
          provide: PERSISTENCE_OPTIONS,
          useValue: {
            dataDir,
            writeBatchMs: 600_000,
            writeBatchSize: 10_000,
            registryCache: 2,
            sessionCache: 4,
          },
        },
      ],
    }).compile();
    await app.init();
  });

  afterEach(async () => {
    await app.get(SessionStore).shutdown();
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const value = (text: string, series: string) =>
    Number(new RegExp(`^${series.replace(/[{}"=]/g, (m) => `\\${m}`)} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

  it("counts the writer's batches from the session store's persistence.flushed, beside other listeners", async () => {
    const store = app.get(SessionStore);
    const alsoSeen: unknown[] = [];
    app.get(EventEmitter2).on('persistence.flushed', (info) => alsoSeen.push(info));
    for (const seq of [1, 2]) {
      store.enqueue({
        table: 'events',
        sessionId: 'metrics-s' as SessionId,
        row: { seq, type: 'text_delta', turnId: null, payload: '{}', ts: seq },
      });
    }
    await store.writer.flush();
    const text = await app.get(MetricsService).render();
    expect(value(text, 'diminuendo_db_rows_written_total')).toBe(2);
    expect(value(text, 'diminuendo_db_write_batch_seconds_count')).toBe(1);
    expect(alsoSeen).toHaveLength(1);
  });

  it('counts Podium calls, refused authentications and errors sent, with their labels', async () => {
    const events = app.get(GatewayEvents);
    events.emit('podium.call', {
      method: 'POST',
      route: '/api/v1/instances',
      status: 201,
      durationMs: 5,
      ok: true,
    });
    events.emit('podium.call', {
      method: 'GET',
      route: '/x',
      status: null,
      durationMs: 0,
      ok: false,
      kind: 'timeout',
    });
    events.emit('podium.call', { method: 'GET', route: '/x', status: 503, durationMs: 1, ok: false });
    events.emit('auth.failed', { reason: 'invalid' });
    events.emit('auth.failed', { reason: 'rate_limited' });
    events.emit('connection.error_sent', { code: 'AUTH_RATE_LIMITED' });
    const text = await app.get(MetricsService).render();
    expect(
      value(
        text,
        'diminuendo_podium_request_seconds_count{method="POST",route="/api/v1/instances",status="201"}',
      ),
    ).toBe(1);
    expect(
      value(text, 'diminuendo_podium_request_seconds_count{method="GET",route="/x",status="none"}'),
    ).toBe(1);
    expect(value(text, 'diminuendo_podium_errors_total{kind="timeout"}')).toBe(1);
    expect(value(text, 'diminuendo_podium_errors_total{kind="http"}')).toBe(1);
    expect(value(text, 'diminuendo_auth_failures_total{reason="invalid"}')).toBe(1);
    expect(value(text, 'diminuendo_auth_failures_total{reason="rate_limited"}')).toBe(1);
    expect(value(text, 'diminuendo_errors_total{code="AUTH_RATE_LIMITED"}')).toBe(1);
    expect(value(text, 'diminuendo_rate_limited_total{kind="auth_ip"}')).toBe(1);
    expect(text).toContain('diminuendo_process_cpu_user_seconds_total');
  });
});
