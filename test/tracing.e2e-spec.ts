import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DiminuendoClient } from '@app/client';
import { adminClient, eventually } from './support/admin-http';
import { startGateway, type GatewayProcess } from './support/gateway-process';
import { SIM_KEY, startPodiumSim, type SimProcess } from './support/podium-sim';

type AttributeValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};

interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: AttributeValue }[];
  status?: { code?: number };
}

/** An OTLP/HTTP (JSON) trace receiver: what a collector would get from the gateway. */
class OtlpReceiver {
  readonly spans: ExportedSpan[] = [];
  readonly serviceNames = new Set<string>();
  readonly contentTypes = new Set<string>();
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/v1/traces') {
          this.contentTypes.add(String(req.headers['content-type']));
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          for (const rs of body.resourceSpans ?? []) {
            for (const a of rs.resource?.attributes ?? []) {
              if (a.key === 'service.name') this.serviceNames.add(a.value.stringValue);
            }
            for (const ss of rs.scopeSpans ?? []) this.spans.push(...(ss.spans ?? []));
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  named(name: string): ExportedSpan[] {
    return this.spans.filter((s) => s.name === name);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

function attr(span: ExportedSpan, key: string): string | number | boolean | undefined {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.doubleValue ?? v.boolValue;
}

describe('tracing: OpenTelemetry spans over OTLP/HTTP (real processes)', () => {
  let otlp: OtlpReceiver;
  let sim: SimProcess;
  let gw: GatewayProcess;
  let sessionId: string;
  let simStats: { lastTraceparent: string | null; lastStreamTraceparent: string | null };

  beforeAll(async () => {
    otlp = await new OtlpReceiver().start();
    sim = await startPodiumSim();
    gw = await startGateway({
      NODE_ENV: 'development',
      PODIUM_URL: sim.url,
      PODIUM_API_KEY: SIM_KEY,
      DB_WRITE_BATCH_MS: '20',
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_SERVICE_NAME: 'tracing-e2e',
    });

    const c = await DiminuendoClient.connect(gw.url);
    const created = await c.request<any>({ type: 'create_session', agentType: 'echo' });
    sessionId = created.session.id;
    await c.request({ type: 'join_session', sessionId });
    const started = await c.request<any>({ type: 'run_turn', sessionId, text: 'hello traces' });
    await c.waitFor('turn_complete', 15_000, true, (e: any) => e.turnId === started.turnId);
    await expect(c.request({ type: 'join_session', sessionId: 'no-such-session' })).rejects.toMatchObject({
      event: { code: 'SESSION_NOT_FOUND' },
    });
    expect((await adminClient(gw.url)('GET', '/me')).status).toBe(200);
    await c.close();
    simStats = await sim.stats();

    // A graceful stop flushes whatever the batch processor still holds.
    await gw.stop('SIGTERM');
    await eventually(
      async () => otlp.spans.length,
      () => otlp.named('GET /api/v1/me').length > 0 && otlp.named('writer batch').length > 0,
      10_000,
      'the admin and writer spans were exported',
    );
  });

  afterAll(async () => {
    if (gw?.proc.exitCode === null) await gw.stop();
    await sim?.stop();
    await otlp?.stop();
  });

  it('exports OTLP JSON to <endpoint>/v1/traces under OTEL_SERVICE_NAME', () => {
    expect([...otlp.contentTypes]).toEqual(['application/json']);
    expect([...otlp.serviceNames]).toEqual(['tracing-e2e']);
  });

  it('has one span per client message, with type, connection, tenant, session and error code', () => {
    const [create] = otlp.named('ws create_session');
    expect(create).toBeDefined();
    expect(attr(create, 'diminuendo.message.type')).toBe('create_session');
    expect(attr(create, 'diminuendo.tenant.id')).toBe('dev');
    expect(typeof attr(create, 'diminuendo.connection.id')).toBe('string');

    const [run] = otlp.named('ws run_turn');
    expect(attr(run, 'diminuendo.session.id')).toBe(sessionId);
    expect(attr(run, 'diminuendo.connection.id')).toBe(attr(create, 'diminuendo.connection.id'));
    expect(attr(run, 'diminuendo.error.code')).toBeUndefined();

    const joins = otlp.named('ws join_session');
    const failed = joins.find((s) => attr(s, 'diminuendo.session.id') === 'no-such-session');
    expect(failed && attr(failed, 'diminuendo.error.code')).toBe('SESSION_NOT_FOUND');
  });

  it('has a client span per Podium call and stream connect, children of the message that caused them', () => {
    const byId = new Map(otlp.spans.map((s) => [s.spanId, s]));
    const [create] = otlp.named('podium POST /api/v1/instances');
    expect(create).toBeDefined();
    expect(attr(create, 'http.response.status_code')).toBe(201);
    const cause = byId.get(create.parentSpanId ?? '');
    expect(cause?.name).toMatch(/^ws (join_session|run_turn|create_session)$/);
    expect(cause?.traceId).toBe(create.traceId);

    const [connect] = otlp.named('podium WS /api/v1/instances/:id/ws');
    expect(connect).toBeDefined();
    expect(connect.traceId).toBe(create.traceId);
  });

  it('sends W3C traceparent upstream, on HTTP calls and on the stream handshake', () => {
    const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;
    const http = traceparent.exec(simStats.lastTraceparent ?? '');
    const stream = traceparent.exec(simStats.lastStreamTraceparent ?? '');
    expect(http).not.toBeNull();
    expect(stream).not.toBeNull();
    // The header names the client span of that very request.
    expect(otlp.spans.find((s) => s.spanId === http![2])).toMatchObject({
      traceId: http![1],
      name: expect.stringMatching(/^podium /),
    });
    expect(otlp.spans.find((s) => s.spanId === stream![2])?.name).toBe('podium WS /api/v1/instances/:id/ws');
  });

  it('has a span per writer batch with rows, sessions and duration', () => {
    const batches = otlp.named('writer batch');
    const rows = batches.reduce((n, s) => n + Number(attr(s, 'diminuendo.writer.rows')), 0);
    expect(rows).toBeGreaterThan(0);
    for (const b of batches) {
      expect(attr(b, 'diminuendo.writer.sessions')).toBeGreaterThanOrEqual(1);
      expect(typeof attr(b, 'diminuendo.writer.duration_ms')).toBe('number');
      expect(b.parentSpanId ?? '').toBe('');
    }
  });

  it('has a server span per admin request with its route and status', () => {
    const [me] = otlp.named('GET /api/v1/me');
    expect(attr(me, 'http.route')).toBe('/api/v1/me');
    expect(attr(me, 'http.response.status_code')).toBe(200);
    expect(attr(me, 'http.request.method')).toBe('GET');
  });
});

describe('tracing: a collector that never answers', () => {
  let silent: Server;
  let gw: GatewayProcess | undefined;

  afterAll(async () => {
    if (gw?.proc.exitCode === null) await gw.stop('SIGKILL');
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it('does not hold the shutdown: the last spans are given up and the gateway exits 0', async () => {
    let exports = 0;
    silent = createServer(() => {
      exports += 1; // read, never answered
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    gw = await startGateway({
      NODE_ENV: 'development',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      // Well above the flush bound, well below the exporter's own 10 s request timeout.
      SHUTDOWN_TIMEOUT_MS: '6000',
    });
    expect((await adminClient(gw.url)('GET', '/me')).status).toBe(200);
    expect(await gw.stop('SIGTERM')).toBe(0);
    expect(exports).toBeGreaterThan(0); // the flush was attempted
  });
});
