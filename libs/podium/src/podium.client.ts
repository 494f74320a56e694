import { Inject, Injectable, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SpanKind, failSpan, traceApi, traceContext, tracing } from '@app/common';
import { DomainError, type FileEntry, type FileIteration } from '@app/protocol';
import WebSocket from 'ws';
import type { PodiumConfig } from './podium.config';
import { PodiumConnection } from './podium.connection';
import { PodiumError, type PodiumErrorKind } from './podium.errors';
import type { PodiumEventMap } from './podium.events';
import { PODIUM_OPTIONS } from './podium.module-definition';
import { PodiumResilience, type CircuitState } from './podium.resilience';
import {
  isRecord,
  parseJson,
  toEntries,
  toFileContent,
  toIterations,
  type PodiumFileContent,
} from './podium.responses';

export type { PodiumFileContent } from './podium.responses';

export interface CreateInstanceRequest {
  agentType: string;
  /** Usually the session id. */
  agentId?: string;
  secrets?: Record<string, string>;
  environment?: Record<string, string>;
}

export interface CreatedInstance {
  instanceId: string;
  deploymentId: string;
}

export interface PodiumProbeResult {
  ok: boolean;
  latencyMs: number;
  /** For the log: what failed, in words (no secret, no response body). */
  error?: string;
  /** Why the probe failed, for a health answer: an error kind, or `unauthorized` (API key refused). */
  kind?: PodiumErrorKind | 'unauthorized';
}

/** One upstream attempt (each retry attempt and each fail-fast is reported as `podium.call`), for metrics. */
export interface PodiumCallInfo {
  /** HTTP method, or `WS` for an event-stream handshake. */
  method: string;
  /** Low-cardinality route template, e.g. `/api/v1/instances/:id/files/:path`. */
  route: string;
  /** HTTP status (101 for a completed handshake); `null` when no response arrived. */
  status: number | null;
  durationMs: number;
  /** A response with status < 400 (or a completed handshake). */
  ok: boolean;
  /** Set when the attempt failed without a usable status. */
  kind?: PodiumErrorKind;
}

type Method = 'GET' | 'POST' | 'DELETE';

interface CallSpec {
  method: Method;
  path: string;
  route: string;
  timeoutMs: number;
  /** Idempotent calls (GET, DELETE) are retried; POST never is. */
  retry: boolean;
  body?: unknown;
  /** The answer's body is read only up to this many bytes (declared and counted); see `HttpAnswer.tooLarge`. */
  maxBodyBytes?: number;
}

interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
  /** The body was larger than `maxBodyBytes`: reading stopped there and `body` is empty. */
  tooLarge?: boolean;
}

const DEFAULT_RETRY_ATTEMPTS = 3;
const DEFAULT_RETRY_BASE_MS = 200;
const DEFAULT_RETRY_MAX_DELAY_MS = 5000;
const PROBE_PATH = '/api/v1/instances/__health_probe__';
const ALIVE_STATUSES = new Set(['running', 'ready']);

const ROUTE = {
  instances: '/api/v1/instances',
  instance: '/api/v1/instances/:id',
  files: '/api/v1/instances/:id/files',
  file: '/api/v1/instances/:id/files/:path',
  history: '/api/v1/instances/:id/files/:path/history',
  at: '/api/v1/instances/:id/files/:path/at/:n',
  probe: PROBE_PATH,
} as const;

/**
 * Client of the Podium coordinator: instance lifecycle, workspace files and the
 * per-instance event stream.
 *
 * Resilience (`PodiumResilience`, cockatiel policies): GET and DELETE are retried up to 3 attempts on network errors, timeouts, 5xx and
 * 429 (backoff 200 ms × 2ⁿ ± 20 %, cap 5 s); other 4xx and every POST are never retried. One circuit
 * breaker covers every attempt, HTTP and WebSocket handshake alike: network errors, timeouts and 5xx
 * count as failures; any other answer counts as success. While it is open, calls fail fast with
 * `PodiumError { kind: 'circuit_open' }` (and retrying stops).
 *
 * Each attempt and fail-fast is announced as `podium.call` (`PodiumEventMap`) on the application's
 * `EventEmitter2`, when it has one.
 *
 * Tracing: with a tracer installed (`tracing` of libs/common), each attempt and handshake is a client
 * span, child of whatever span is active, and carries a W3C `traceparent` header upstream.
 */
@Injectable()
export class PodiumClient {
  private readonly resilience: PodiumResilience;
  private readonly httpBase: string;
  private readonly wsBase: string;

  constructor(
    @Inject(PODIUM_OPTIONS) private readonly config: PodiumConfig,
    @Optional() private readonly events?: EventEmitter2,
  ) {
    this.resilience = new PodiumResilience({
      breakerThreshold: config.breakerThreshold,
      breakerCooldownMs: config.breakerCooldownMs,
      retryAttempts: config.retryAttempts ?? DEFAULT_RETRY_ATTEMPTS,
      retryBaseMs: config.retryBaseMs ?? DEFAULT_RETRY_BASE_MS,
      retryMaxDelayMs: config.retryMaxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS,
    });
    // Any path prefix of PODIUM_URL is kept, for both the REST routes and the event-stream path.
    const base = new URL(config.url);
    const prefix = base.pathname.replace(/\/+$/, '');
    this.httpBase = `${base.protocol}//${base.host}${prefix}`;
    this.wsBase = `${base.protocol === 'https:' ? 'wss:' : 'ws:'}//${base.host}${prefix}`;
  }

  get circuitState(): CircuitState {
    return this.resilience.circuitState;
  }

  // ── instances ─────────────────────────────────────────────────────────────

  /** `POST /api/v1/instances`; never retried automatically (a retry could create a second instance). */
  async createInstance(request: CreateInstanceRequest): Promise<CreatedInstance> {
    const deploymentId = `${request.agentType}:1.0.0@local`;
    const answer = await this.call({
      method: 'POST',
      path: ROUTE.instances,
      route: ROUTE.instances,
      timeoutMs: this.config.createTimeoutMs,
      retry: false,
      body: {
        deployment_id: deploymentId,
        agent_id: request.agentId,
        secrets: request.secrets,
        environment: request.environment,
      },
    });
    this.expectSuccess(answer, 'POST', ROUTE.instances);
    const body = parseJson(answer.body);
    const instanceId = isRecord(body) ? body.instance_id : undefined;
    if (typeof instanceId !== 'string' || instanceId.length === 0) {
      throw new PodiumError(
        'http',
        `Podium POST ${ROUTE.instances}: response has no instance_id`,
        answer.status,
        ROUTE.instances,
      );
    }
    return { instanceId, deploymentId };
  }

  /**
   * `GET /api/v1/instances/{id}`. Never throws: alive when the answer is 2xx and its `status` is
   * `running`/`ready` (or absent); 404, other statuses and every failure mean not alive.
   */
  async isAlive(instanceId: string): Promise<boolean> {
    try {
      const answer = await this.call({
        method: 'GET',
        path: instancePath(instanceId),
        route: ROUTE.instance,
        timeoutMs: this.config.infoTimeoutMs,
        retry: true,
      });
      if (answer.status < 200 || answer.status >= 300) return false;
      const body = parseJson(answer.body);
      const status = isRecord(body) ? body.status : undefined;
      if (status === undefined || status === null) return true;
      return typeof status === 'string' && ALIVE_STATUSES.has(status.toLowerCase());
    } catch {
      return false;
    }
  }

  /** `DELETE /api/v1/instances/{id}`; 2xx and 404 (already reclaimed) both count as success. */
  async stopInstance(instanceId: string): Promise<void> {
    const answer = await this.call({
      method: 'DELETE',
      path: instancePath(instanceId),
      route: ROUTE.instance,
      timeoutMs: this.config.stopTimeoutMs,
      retry: true,
    });
    if (answer.status === 404) return;
    this.expectSuccess(answer, 'DELETE', ROUTE.instance);
  }

  /**
   * Health probe: `GET /api/v1/instances/__health_probe__`, one attempt, info timeout, through the
   * breaker. Rule: any HTTP answer means Podium is reachable (ok) — except 401 (our API key is
   * rejected, so every real call would fail) and 5xx; network errors, timeouts and an open circuit
   * are not ok. A 404 for the made-up id is the expected healthy answer.
   */
  async probe(): Promise<PodiumProbeResult> {
    const started = performance.now();
    try {
      const answer = await this.call({
        method: 'GET',
        path: PROBE_PATH,
        route: ROUTE.probe,
        timeoutMs: this.config.infoTimeoutMs,
        retry: false,
      });
      const latencyMs = elapsed(started);
      if (answer.status === 401)
        return {
          ok: false,
          latencyMs,
          error: 'Podium rejected the API key (HTTP 401)',
          kind: 'unauthorized',
        };
      return { ok: true, latencyMs };
    } catch (err) {
      return {
        ok: false,
        latencyMs: elapsed(started),
        error: err instanceof PodiumError ? err.message : 'probe failed',
        kind: err instanceof PodiumError ? err.kind : 'network',
      };
    }
  }

  // ── files ─────────────────────────────────────────────────────────────────

  /** `GET …/files?path=&depth=`. An unsafe path is rejected with `FILE_NOT_FOUND` before any request. */
  async listFiles(instanceId: string, path?: string, depth?: number): Promise<FileEntry[]> {
    const dir = path === undefined ? '' : encodeFilePath(path, true).normalized;
    if (depth !== undefined && (!Number.isInteger(depth) || depth < 0)) {
      throw new DomainError('INVALID_MESSAGE', 'depth must be a non-negative integer');
    }
    const query = new URLSearchParams();
    if (dir) query.set('path', dir);
    if (depth !== undefined) query.set('depth', String(depth));
    const qs = query.toString();
    const answer = await this.fileCall(`${instancePath(instanceId)}/files${qs ? `?${qs}` : ''}`, ROUTE.files);
    return toEntries(parseJson(answer.body), dir, answer.status, ROUTE.files);
  }

  /**
   * `GET …/files/{path}`. An answer above `fileReadMaxBytes` (by its Content-Length, or counted while it
   * streams in when it has none) is abandoned there: `FILE_TOO_LARGE`.
   */
  async readFile(instanceId: string, path: string): Promise<PodiumFileContent> {
    const { normalized, encoded } = encodeFilePath(path);
    const answer = await this.fileCall(`${instancePath(instanceId)}/files/${encoded}`, ROUTE.file, true);
    return toFileContent(answer, normalized, undefined);
  }

  /** `GET …/files/{path}/history`. */
  async fileHistory(instanceId: string, path: string): Promise<FileIteration[]> {
    const { encoded } = encodeFilePath(path);
    const answer = await this.fileCall(`${instancePath(instanceId)}/files/${encoded}/history`, ROUTE.history);
    return toIterations(parseJson(answer.body), answer.status, ROUTE.history);
  }

  /**
   * `GET …/files/{path}/at/{n}`; a negative or non-integer iteration is `FILE_NOT_FOUND` without a request.
   * Bounded like `readFile`.
   */
  async fileAtIteration(instanceId: string, path: string, iteration: number): Promise<PodiumFileContent> {
    const { normalized, encoded } = encodeFilePath(path);
    if (!Number.isInteger(iteration) || iteration < 0) throw new DomainError('FILE_NOT_FOUND');
    const answer = await this.fileCall(
      `${instancePath(instanceId)}/files/${encoded}/at/${iteration}`,
      ROUTE.at,
      true,
    );
    return toFileContent(answer, normalized, iteration);
  }

  // ── event stream ──────────────────────────────────────────────────────────

  /** Opens the instance's event stream; rejects with `PodiumError` when the handshake fails. */
  async connect(instanceId: string): Promise<PodiumConnection> {
    const connection = new PodiumConnection(instanceId, {
      openSocket: (bind) => this.openSocket(instanceId, bind),
      isAlive: () => this.isAlive(instanceId),
      reconnectAttempts: this.config.reconnectAttempts,
      reconnectBaseMs: this.config.reconnectBaseMs,
    });
    await connection.start();
    return connection;
  }

  /** The event-stream URL: `ws(s)://<PODIUM_URL host>` + the path template with the instance id. */
  wsUrl(instanceId: string): string {
    return (
      this.wsBase +
      this.config.wsPathTemplate.replaceAll('{instanceId}', encodeURIComponent(requireId(instanceId)))
    );
  }

  /**
   * One WebSocket handshake through the breaker, bounded by the info timeout (a client span when
   * tracing is on). `bind` runs synchronously on `open`, so no frame that arrives with the upgrade
   * response can be missed.
   */
  private async openSocket(instanceId: string, bind: (ws: WebSocket) => void): Promise<WebSocket> {
    const route = this.config.wsPathTemplate.replaceAll('{instanceId}', ':id');
    const url = this.wsUrl(instanceId);
    const outcome = await this.resilience.run(
      false,
      this.config.infoTimeoutMs,
      (signal) => this.tracedHandshake(url, route, bind, signal),
      () => this.circuitOpen('WS', route),
    );
    if (outcome instanceof PodiumError) throw outcome;
    return outcome;
  }

  private tracedHandshake(
    url: string,
    route: string,
    bind: (ws: WebSocket) => void,
    signal: AbortSignal,
  ): Promise<WebSocket | PodiumError> {
    const tracer = tracing.tracer;
    if (!tracer) return this.handshake(url, route, bind, signal);
    const span = tracer.startSpan(`podium WS ${route}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'url.template': route },
    });
    return traceContext.with(traceApi.setSpan(traceContext.active(), span), async () => {
      const outcome = await this.handshake(url, route, bind, signal);
      if (outcome instanceof PodiumError) {
        if (outcome.status !== undefined) span.setAttribute('http.response.status_code', outcome.status);
        failSpan(span, outcome);
      }
      span.end();
      return outcome;
    });
  }

  /**
   * Resolves with the open socket, or with the `PodiumError` that ended the handshake (resolved, not
   * thrown, so the breaker judges it by kind and status: a 4xx refusal proves Podium is up).
   */
  private handshake(
    url: string,
    route: string,
    bind: (ws: WebSocket) => void,
    signal: AbortSignal,
  ): Promise<WebSocket | PodiumError> {
    const started = performance.now();
    const headers = this.authHeaders();
    tracing.injectHeaders(headers);
    return new Promise<WebSocket | PodiumError>((resolve) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: false, followRedirects: false });
      // Errors after settling (e.g. from terminate()) must never become an unhandled 'error' event.
      ws.on('error', () => undefined);
      let settled = false;
      const fail = (error: PodiumError, status: number | null) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onTimeout);
        this.observe({
          method: 'WS',
          route,
          status,
          durationMs: elapsed(started),
          ok: false,
          kind: error.kind,
        });
        try {
          ws.terminate();
        } catch {
          /* already closed */
        }
        resolve(error);
      };
      const onTimeout = () =>
        fail(new PodiumError('timeout', `Podium WS ${route}: handshake timed out`, undefined, route), null);
      signal.addEventListener('abort', onTimeout, { once: true });
      ws.once('open', () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onTimeout);
        this.observe({ method: 'WS', route, status: 101, durationMs: elapsed(started), ok: true });
        bind(ws);
        resolve(ws);
      });
      ws.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        fail(new PodiumError('http', `Podium WS ${route}: HTTP ${status}`, status, route), status);
      });
      ws.once('error', (err: Error & { code?: string }) => {
        fail(
          new PodiumError(
            'network',
            `Podium WS ${route}: ${this.describeNetworkError(err)}`,
            undefined,
            route,
          ),
          null,
        );
      });
    });
  }

  // ── transport ─────────────────────────────────────────────────────────────

  /** A GET of a file route; `bounded` reads (file contents) stop at `fileReadMaxBytes` with `FILE_TOO_LARGE`. */
  private async fileCall(path: string, route: string, bounded = false): Promise<HttpAnswer> {
    const max = this.config.fileReadMaxBytes;
    const answer = await this.call({
      method: 'GET',
      path,
      route,
      timeoutMs: this.config.fileTimeoutMs,
      retry: true,
      ...(bounded ? { maxBodyBytes: max } : {}),
    });
    if (answer.status === 404) throw new DomainError('FILE_NOT_FOUND');
    this.expectSuccess(answer, 'GET', route);
    if (answer.tooLarge) {
      throw new DomainError('FILE_TOO_LARGE', `The file is larger than the ${max}-byte read limit`);
    }
    return answer;
  }

  /**
   * Runs one logical call: each attempt through the breaker and its timeout, idempotent calls retried
   * (see `PodiumResilience`). Resolves with any answer below 500 other than a final 429 (callers
   * interpret 4xx); throws `PodiumError` for transport failures, 5xx and 429 after the last attempt,
   * and an open circuit.
   */
  private async call(spec: CallSpec): Promise<HttpAnswer> {
    const { method, route } = spec;
    const answer = await this.resilience.run(
      spec.retry,
      spec.timeoutMs,
      (signal) => this.attempt(spec, signal),
      () => this.circuitOpen(method, route),
    );
    if (answer.status >= 500 || answer.status === 429) throw this.httpError(method, route, answer.status);
    return answer;
  }

  /** One HTTP request (a client span when tracing is on); `signal` is the attempt's timeout. */
  private attempt(spec: CallSpec, signal: AbortSignal): Promise<HttpAnswer> {
    const tracer = tracing.tracer;
    if (!tracer) return this.request(spec, signal);
    const span = tracer.startSpan(`podium ${spec.method} ${spec.route}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': spec.method, 'url.template': spec.route },
    });
    return traceContext.with(traceApi.setSpan(traceContext.active(), span), async () => {
      try {
        const answer = await this.request(spec, signal);
        span.setAttribute('http.response.status_code', answer.status);
        if (answer.status >= 500) failSpan(span, this.httpError(spec.method, spec.route, answer.status));
        return answer;
      } catch (err) {
        failSpan(span, err);
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async request(spec: CallSpec, signal: AbortSignal): Promise<HttpAnswer> {
    const { method, route } = spec;
    const started = performance.now();
    try {
      const headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders() };
      tracing.injectHeaders(headers);
      let body: string | undefined;
      if (spec.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(spec.body);
      }
      const res = await fetch(this.httpBase + spec.path, {
        method,
        headers,
        body,
        redirect: 'manual',
        signal,
      });
      const buffer = await readBody(res, spec.maxBodyBytes);
      this.observe({ method, route, status: res.status, durationMs: elapsed(started), ok: res.status < 400 });
      return buffer
        ? { status: res.status, headers: res.headers, body: buffer }
        : { status: res.status, headers: res.headers, body: Buffer.alloc(0), tooLarge: true };
    } catch (err) {
      const timedOut = isTimeout(err);
      const kind: PodiumErrorKind = timedOut ? 'timeout' : 'network';
      this.observe({ method, route, status: null, durationMs: elapsed(started), ok: false, kind });
      const detail = timedOut ? `timed out after ${spec.timeoutMs} ms` : this.describeNetworkError(err);
      throw new PodiumError(kind, `Podium ${method} ${route}: ${detail}`, undefined, route);
    }
  }

  /** The fail-fast answer while the circuit is open (announced like an attempt). */
  private circuitOpen(method: string, route: string): PodiumError {
    this.observe({ method, route, status: null, durationMs: 0, ok: false, kind: 'circuit_open' });
    return new PodiumError('circuit_open', `Podium ${method} ${route}: circuit open`, undefined, route);
  }

  private expectSuccess(answer: HttpAnswer, method: Method, route: string): void {
    if (answer.status < 200 || answer.status >= 300) throw this.httpError(method, route, answer.status);
  }

  private httpError(method: string, route: string, status: number): PodiumError {
    return new PodiumError('http', `Podium ${method} ${route}: HTTP ${status}`, status, route);
  }

  private authHeaders(): Record<string, string> {
    return this.config.apiKey ? { authorization: `Bearer ${this.config.apiKey}` } : {};
  }

  /** A short, key-free description: the error code when there is one. */
  private describeNetworkError(err: unknown): string {
    const cause = (err as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
    const code = cause?.code ?? (err as { code?: unknown } | undefined)?.code;
    const text = typeof code === 'string' ? `network error (${code})` : 'network error';
    return this.config.apiKey ? text.replaceAll(this.config.apiKey, '[REDACTED]') : text;
  }

  /** Announces an attempt as `podium.call`. A listener's failure never breaks the call. */
  private observe(info: PodiumEventMap['podium.call']): void {
    if (!this.events) return;
    try {
      this.events.emit('podium.call', info);
    } catch {
      /* metrics must never break a call */
    }
  }
}

// ── helpers ─────────────────────────────────────────────────────────────────

function requireId(instanceId: string): string {
  if (typeof instanceId !== 'string' || instanceId.length === 0)
    throw new TypeError('instanceId must be a non-empty string');
  return instanceId;
}

function instancePath(instanceId: string): string {
  return `${ROUTE.instances}/${encodeURIComponent(requireId(instanceId))}`;
}

/**
 * Workspace path → URL path. Leading `/` and empty segments are dropped, each segment is URL-encoded;
 * `.`/`..` segments (also when split on `\`) and NUL bytes are rejected with `FILE_NOT_FOUND`.
 */
export function encodeFilePath(path: string, allowRoot = false): { normalized: string; encoded: string } {
  if (typeof path !== 'string' || path.includes('\0')) throw new DomainError('FILE_NOT_FOUND');
  const segments = path.split('/').filter((s) => s.length > 0);
  for (const segment of segments) {
    if (segment.split('\\').some((part) => part === '.' || part === '..'))
      throw new DomainError('FILE_NOT_FOUND');
  }
  if (segments.length === 0 && !allowRoot) throw new DomainError('FILE_NOT_FOUND');
  try {
    return { normalized: segments.join('/'), encoded: segments.map(encodeURIComponent).join('/') };
  } catch {
    throw new DomainError('FILE_NOT_FOUND'); // lone surrogates cannot be encoded
  }
}

/**
 * A response body, or null when it is larger than `max` bytes: a larger Content-Length is refused before
 * reading, and without one (chunked) the bytes are counted as they arrive and reading stops past `max`.
 * Either way the rest of the body is never read (the connection is dropped).
 */
async function readBody(res: Response, max: number | undefined): Promise<Buffer | null> {
  if (max === undefined) return Buffer.from(await res.arrayBuffer());
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (!res.body) return Buffer.alloc(0);
  if (declared > max) {
    await res.body.cancel().catch(() => undefined);
    return null;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

function isTimeout(err: unknown): boolean {
  const name = (err as { name?: unknown } | undefined)?.name;
  return name === 'TimeoutError' || name === 'AbortError';
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
