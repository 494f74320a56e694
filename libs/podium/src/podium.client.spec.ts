import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { SpanKind, tracing } from '@app/common';
import { DomainError } from '@app/protocol';
import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import { PodiumClient, type PodiumCallInfo } from './podium.client';
import type { PodiumConfig } from './podium.config';
import type { PodiumConnection } from './podium.connection';
import { processMessage, steerMessage } from './podium.envelopes';
import { PodiumError } from './podium.errors';

const API_KEY = 'pod_test_secret_key';

beforeAll(() => Logger.overrideLogger(false));

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: unknown;
}

type Scripted = { status: number; body?: unknown; delayMs?: number };

/**
 * A tiny fake of the Podium contract: instances, files and the event
 * stream. `script` holds one-shot answers that pre-empt the normal routes, in order.
 */
class FakePodium {
  readonly server: Server = createServer((req, res) => void this.onRequest(req, res));
  readonly wss = new WebSocketServer({ noServer: true });
  readonly requests: Seen[] = [];
  readonly upgrades: { url: string; auth: string | undefined }[] = [];
  /** The `traceparent` header of every request and upgrade, in order (undefined: none sent). */
  readonly traceparents: (string | undefined)[] = [];
  readonly instances = new Map<string, Record<string, unknown>>();
  readonly sockets: ServerSocket[] = [];
  readonly received: unknown[] = [];
  script: Scripted[] = [];
  delayMs = 0;
  /** When set, WebSocket upgrades are refused with this status. */
  rejectUpgrades: number | null = null;
  /** How many of the next event-stream sockets are dropped right after the greeting. */
  dropNextSockets = 0;
  /** Frames sent to every new event-stream socket as soon as it opens. */
  greeting: string[] = [
    JSON.stringify({ messageType: 'status', content: { event_type: 'status', status: 'ready' } }),
  ];
  private nextId = 1;

  constructor() {
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades.push({ url: req.url ?? '', auth: req.headers.authorization });
      this.traceparents.push(req.headers.traceparent as string | undefined);
      const match = /^\/api\/v1\/instances\/([^/]+)\/ws$/.exec(req.url ?? '');
      const status =
        this.rejectUpgrades ??
        (req.headers.authorization !== `Bearer ${API_KEY}`
          ? 401
          : !match || !this.instances.has(decodeURIComponent(match[1]))
            ? 404
            : null);
      if (status !== null) {
        socket.end(`HTTP/1.1 ${status} Nope\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.push(ws);
        ws.on('message', (data) => this.received.push(JSON.parse(String(data))));
        for (const frame of this.greeting) ws.send(frame);
        if (this.dropNextSockets > 0) {
          this.dropNextSockets -= 1;
          ws.terminate();
        }
      });
    });
  }

  async start(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  addInstance(id: string, info: Record<string, unknown> = { status: 'running' }): void {
    this.instances.set(id, info);
  }

  get lastSocket(): ServerSocket {
    return this.sockets[this.sockets.length - 1];
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    this.traceparents.push(req.headers.traceparent as string | undefined);
    this.requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization,
      body: raw ? JSON.parse(raw) : undefined,
    });
    const scripted = this.script.shift();
    const delay = scripted?.delayMs ?? this.delayMs;
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (res.destroyed) return;
    if (scripted) return this.reply(res, scripted.status, scripted.body);
    if (req.headers.authorization !== `Bearer ${API_KEY}`)
      return this.reply(res, 401, { error: 'unauthorized' });
    this.route(req.method ?? '', new URL(req.url ?? '/', 'http://x'), res, raw ? JSON.parse(raw) : undefined);
  }

  private route(method: string, url: URL, res: ServerResponse, body: any): void {
    const parts = url.pathname.split('/').slice(4); // after /api/v1/instances
    if (url.pathname === '/api/v1/instances' && method === 'POST') {
      const id = `inst-${this.nextId++}`;
      this.instances.set(id, { status: 'running', deployment_id: body.deployment_id });
      return this.reply(res, 201, { instance_id: id });
    }
    const id = decodeURIComponent(parts[0] ?? '');
    const instance = this.instances.get(id);
    if (!instance) return this.reply(res, 404, { error: 'not found' });
    if (parts.length === 1 && method === 'GET') return this.reply(res, 200, { instance_id: id, ...instance });
    if (parts.length === 1 && method === 'DELETE') {
      this.instances.delete(id);
      return this.reply(res, 204);
    }
    if (parts[1] === 'files' && parts.length === 2) {
      return this.reply(res, 200, {
        entries: [
          { path: 'src/a.ts', name: 'a.ts', type: 'file', size: 3, modified_at: 1700000000000 },
          { path: 'src/lib', type: 'directory' },
        ],
      });
    }
    if (parts[1] === 'files') {
      const rest = parts.slice(2);
      if (rest[rest.length - 1] === 'history') {
        return this.reply(res, 200, [
          { iteration: 1, timestamp: 1, size: 3, hash: 'h1' },
          { iteration: 2, created_at: '2024-01-01T00:00:00Z', content_hash: 'h2' },
        ]);
      }
      if (rest[rest.length - 2] === 'at') {
        const n = Number(rest[rest.length - 1]);
        if (n > 5) return this.reply(res, 404, { error: 'no such iteration' });
        return this.reply(res, 200, {
          path: rest.slice(0, -2).map(decodeURIComponent).join('/'),
          content: n === 4 ? 'x'.repeat(2048) : `v${n}`,
          encoding: 'utf8',
          size: 2,
          iteration: n,
        });
      }
      const path = rest.map(decodeURIComponent).join('/');
      if (path === 'missing.txt') return this.reply(res, 404, { error: 'not found' });
      const sized = /^(sized|chunked)\/(\d+)$/.exec(path);
      if (sized) {
        const bytes = Buffer.alloc(Number(sized[2]), 'a');
        if (sized[1] === 'sized') {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': bytes.length });
          res.end(bytes);
        } else {
          res.writeHead(200, { 'content-type': 'text/plain' }); // no length: chunked
          for (let i = 0; i < bytes.length; i += 16 * 1024) res.write(bytes.subarray(i, i + 16 * 1024));
          res.end();
        }
        return;
      }
      if (path === 'endless.bin') {
        void this.streamEndlessly(res);
        return;
      }
      if (path === 'raw.bin') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
        return;
      }
      return this.reply(res, 200, { path, content: 'hello', encoding: 'utf8', size: 5 });
    }
    this.reply(res, 404, { error: 'no route' });
  }

  /** Bytes written by `endless.bin` answers before the client went away (or the 64 MiB cap). */
  endlessSent = 0;

  /** A chunked answer that never ends on its own: 64 KiB chunks, honouring backpressure, up to 64 MiB. */
  private async streamEndlessly(res: ServerResponse): Promise<void> {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(64 * 1024, 1);
    while (!res.destroyed && this.endlessSent < 64 * 1024 * 1024) {
      this.endlessSent += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go);
            res.off('close', go);
            resolve();
          };
          res.on('drain', go);
          res.on('close', go);
        });
      }
    }
    res.end();
  }

  private reply(res: ServerResponse, status: number, body?: unknown): void {
    if (body === undefined) {
      res.writeHead(status);
      res.end();
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}

function config(url: string, overrides: Partial<PodiumConfig> = {}): PodiumConfig {
  return {
    url,
    apiKey: API_KEY,
    wsPathTemplate: '/api/v1/instances/{instanceId}/ws',
    createTimeoutMs: 3000,
    stopTimeoutMs: 3000,
    fileTimeoutMs: 3000,
    fileReadMaxBytes: 1024 * 1024,
    infoTimeoutMs: 3000,
    reconnectAttempts: 3,
    reconnectBaseMs: 10,
    breakerThreshold: 100,
    breakerCooldownMs: 100,
    retryAttempts: 3,
    retryBaseMs: 5,
    retryMaxDelayMs: 50,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `predicate` holds, polling every few ms (bounded). */
async function until(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(5);
  }
}

/** A URL on which nothing listens. */
async function deadUrl(): Promise<string> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe('PodiumClient (HTTP)', () => {
  let fake: FakePodium;
  let url: string;
  let client: PodiumClient;

  beforeEach(async () => {
    fake = new FakePodium();
    url = await fake.start();
    client = new PodiumClient(config(url));
  });
  afterEach(() => fake.stop());

  it('creates an instance with the derived deployment id and sends the bearer key', async () => {
    const created = await client.createInstance({
      agentType: 'coder',
      agentId: 'sess-1',
      secrets: { A: 'b' },
      environment: { X: '1' },
    });
    expect(created).toEqual({ instanceId: 'inst-1', deploymentId: 'coder:1.0.0@local' });
    expect(fake.requests).toEqual([
      {
        method: 'POST',
        url: '/api/v1/instances',
        auth: `Bearer ${API_KEY}`,
        body: {
          deployment_id: 'coder:1.0.0@local',
          agent_id: 'sess-1',
          secrets: { A: 'b' },
          environment: { X: '1' },
        },
      },
    ]);
  });

  it('rejects a create answer without instance_id', async () => {
    fake.script.push({ status: 200, body: { id: 'x' } });
    const err = await rejection(client.createInstance({ agentType: 'coder' }));
    expect(err).toBeInstanceOf(PodiumError);
    expect(err).toMatchObject({ kind: 'http', status: 200 });
  });

  it('isAlive: running/ready/no status are alive; 404, other statuses and failures are not', async () => {
    fake.addInstance('a', { status: 'running' });
    fake.addInstance('b', { status: 'READY' });
    fake.addInstance('c', {});
    fake.addInstance('d', { status: 'stopped' });
    expect(await client.isAlive('a')).toBe(true);
    expect(await client.isAlive('b')).toBe(true);
    expect(await client.isAlive('c')).toBe(true);
    expect(await client.isAlive('d')).toBe(false);
    expect(await client.isAlive('nope')).toBe(false);
    expect(await new PodiumClient(config(await deadUrl(), { retryAttempts: 1 })).isAlive('a')).toBe(false);
  });

  it('stopInstance: 2xx and 404 both succeed', async () => {
    fake.addInstance('a');
    await expect(client.stopInstance('a')).resolves.toBeUndefined();
    await expect(client.stopInstance('a')).resolves.toBeUndefined();
    expect(fake.requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'DELETE /api/v1/instances/a',
      'DELETE /api/v1/instances/a',
    ]);
  });

  it('retries a GET after 503 and then succeeds', async () => {
    fake.addInstance('a');
    fake.script.push({ status: 503 });
    expect(await client.isAlive('a')).toBe(true);
    expect(fake.requests).toHaveLength(2);
  });

  it('retries a DELETE on 429 and gives up after 3 attempts on persistent 500', async () => {
    fake.addInstance('a');
    fake.script.push({ status: 429 });
    await client.stopInstance('a');
    expect(fake.requests).toHaveLength(2);

    fake.requests.length = 0;
    fake.script.push({ status: 500 }, { status: 500 }, { status: 500 });
    const err = await rejection(client.stopInstance('a'));
    expect(err).toMatchObject({ name: 'PodiumError', kind: 'http', status: 500 });
    expect(fake.requests).toHaveLength(3);
  });

  it('never retries a POST', async () => {
    fake.script.push({ status: 503 });
    const err = await rejection(client.createInstance({ agentType: 'coder' }));
    expect(err).toMatchObject({ kind: 'http', status: 503 });
    expect(fake.requests).toHaveLength(1);
  });

  it('does not retry 404 or 400', async () => {
    expect(await client.isAlive('missing')).toBe(false);
    expect(fake.requests).toHaveLength(1);

    fake.addInstance('a');
    fake.script.push({ status: 400, body: { error: 'bad' } });
    const err = await rejection(client.stopInstance('a'));
    expect(err).toMatchObject({ kind: 'http', status: 400 });
    expect(fake.requests).toHaveLength(2);
  });

  it('times out slow calls (and retries idempotent ones)', async () => {
    const slow = new PodiumClient(config(url, { stopTimeoutMs: 40, infoTimeoutMs: 40, retryAttempts: 2 }));
    fake.addInstance('a');
    fake.delayMs = 150;
    const err = await rejection(slow.stopInstance('a'));
    expect(err).toBeInstanceOf(PodiumError);
    expect(err).toMatchObject({ kind: 'timeout' });
    expect(fake.requests).toHaveLength(2);
    expect(await slow.isAlive('a')).toBe(false);
  });

  it('reports network errors as kind network, without the API key in the message', async () => {
    const dead = new PodiumClient(config(await deadUrl(), { retryAttempts: 1 }));
    const err = (await rejection(dead.createInstance({ agentType: 'coder' }))) as PodiumError;
    expect(err).toMatchObject({ kind: 'network' });
    expect(err.message).toContain('ECONNREFUSED');
    expect(err.message).not.toContain(API_KEY);
    expect(JSON.stringify(err)).not.toContain(API_KEY);
  });

  it('announces every attempt as podium.call, to every listener', async () => {
    const events = new EventEmitter2();
    const seen: PodiumCallInfo[] = [];
    const alsoSeen: PodiumCallInfo[] = [];
    events.on('podium.call', (info: PodiumCallInfo) => seen.push(info));
    events.on('podium.call', (info: PodiumCallInfo) => alsoSeen.push(info));
    const announcing = new PodiumClient(config(url), events);
    fake.addInstance('a');
    fake.script.push({ status: 503 });
    await announcing.isAlive('a');
    expect(alsoSeen).toEqual(seen);
    expect(seen.map(({ method, route, status, ok }) => ({ method, route, status, ok }))).toEqual([
      { method: 'GET', route: '/api/v1/instances/:id', status: 503, ok: false },
      { method: 'GET', route: '/api/v1/instances/:id', status: 200, ok: true },
    ]);
    expect(seen.every((s) => typeof s.durationMs === 'number')).toBe(true);
  });

  describe('probe', () => {
    it('is ok on any answer but 401/5xx', async () => {
      expect(await client.probe()).toMatchObject({ ok: true }); // 404 for the made-up id
      expect(fake.requests[0].url).toBe('/api/v1/instances/__health_probe__');
      fake.script.push({ status: 401 });
      expect(await client.probe()).toMatchObject({ ok: false, error: expect.stringContaining('401') });
      fake.script.push({ status: 503 });
      expect(await client.probe()).toMatchObject({ ok: false, error: expect.stringContaining('503') });
      expect(fake.requests).toHaveLength(3); // no retries
    });

    it('is not ok when Podium is unreachable', async () => {
      const result = await new PodiumClient(config(await deadUrl())).probe();
      expect(result.ok).toBe(false);
      expect(result.latencyMs).toBeGreaterThanOrEqual(0);
    });
  });

  describe('circuit breaker', () => {
    let guarded: PodiumClient;
    beforeEach(() => {
      guarded = new PodiumClient(
        config(url, { breakerThreshold: 2, breakerCooldownMs: 80, retryAttempts: 1 }),
      );
    });

    it('opens after N consecutive failures and fails fast without a request', async () => {
      fake.script.push({ status: 503 }, { status: 502 });
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      expect(guarded.circuitState).toBe('closed');
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      expect(guarded.circuitState).toBe('open');

      const err = await rejection(guarded.createInstance({ agentType: 'coder' }));
      expect(err).toMatchObject({ kind: 'circuit_open' });
      expect(await guarded.isAlive('x')).toBe(false);
      expect(fake.requests).toHaveLength(2);
    });

    it('does not count 4xx answers as failures', async () => {
      fake.script.push({ status: 503 }, { status: 400 }, { status: 503 });
      for (let i = 0; i < 3; i++) await rejection(guarded.createInstance({ agentType: 'coder' }));
      expect(guarded.circuitState).toBe('closed');
    });

    it('half-opens after the cooldown, admits one probe call and closes on its success', async () => {
      fake.script.push({ status: 503 }, { status: 503 });
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      await sleep(100);
      fake.addInstance('a');
      fake.script.push({ status: 200, body: { status: 'running' }, delayMs: 40 });
      const probe = guarded.isAlive('a');
      // While the probe is in flight, other calls still fail fast.
      expect(await rejection(guarded.stopInstance('a'))).toMatchObject({ kind: 'circuit_open' });
      expect(await probe).toBe(true);
      expect(guarded.circuitState).toBe('closed');
      await guarded.stopInstance('a');
      expect(fake.requests).toHaveLength(4);
    });

    it('re-opens when the half-open probe fails', async () => {
      fake.script.push({ status: 503 }, { status: 503 }, { status: 503 });
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      await sleep(100);
      await rejection(guarded.createInstance({ agentType: 'coder' }));
      expect(guarded.circuitState).toBe('open');
      expect(await rejection(guarded.createInstance({ agentType: 'coder' }))).toMatchObject({
        kind: 'circuit_open',
      });
      expect(fake.requests).toHaveLength(3);
    });
  });

  describe('files', () => {
    beforeEach(() => fake.addInstance('i 1'));

    it('lists files with path and depth', async () => {
      const entries = await client.listFiles('i 1', '/src', 2);
      expect(fake.requests[0].url).toBe('/api/v1/instances/i%201/files?path=src&depth=2');
      expect(entries).toEqual([
        { path: 'src/a.ts', name: 'a.ts', type: 'file', size: 3, modifiedAt: 1700000000000 },
        { path: 'src/lib', name: 'lib', type: 'directory' },
      ]);
      await client.listFiles('i 1');
      expect(fake.requests[1].url).toBe('/api/v1/instances/i%201/files');
    });

    it('encodes each path segment and strips the leading slash', async () => {
      const file = await client.readFile('i 1', '/src/a b/c#d?.ts');
      expect(fake.requests[0].url).toBe('/api/v1/instances/i%201/files/src/a%20b/c%23d%3F.ts');
      expect(file).toEqual({ path: 'src/a b/c#d?.ts', content: 'hello', encoding: 'utf8', size: 5 });
    });

    it('returns raw non-UTF-8 bodies as base64', async () => {
      expect(await client.readFile('i 1', 'raw.bin')).toEqual({
        path: 'raw.bin',
        content: '//4AAQ==',
        encoding: 'base64',
        size: 4,
      });
    });

    it('reads history and a file at an iteration', async () => {
      expect(await client.fileHistory('i 1', 'src/a.ts')).toEqual([
        { iteration: 1, timestamp: 1, size: 3, hash: 'h1' },
        { iteration: 2, timestamp: Date.parse('2024-01-01T00:00:00Z'), size: 0, hash: 'h2' },
      ]);
      expect(fake.requests[0].url).toBe('/api/v1/instances/i%201/files/src/a.ts/history');
      expect(await client.fileAtIteration('i 1', 'src/a.ts', 3)).toEqual({
        path: 'src/a.ts',
        content: 'v3',
        encoding: 'utf8',
        size: 2,
        iteration: 3,
      });
      expect(fake.requests[1].url).toBe('/api/v1/instances/i%201/files/src/a.ts/at/3');
    });

    it.each(['../etc/passwd', 'src/../../x', 'src/./a', '.', 'a\\..\\b', 'a\0b', '', '/'])(
      'rejects %j with FILE_NOT_FOUND before any request',
      async (path) => {
        const err = await rejection(client.readFile('i 1', path));
        expect(err).toBeInstanceOf(DomainError);
        expect(err).toMatchObject({ code: 'FILE_NOT_FOUND' });
        expect(fake.requests).toHaveLength(0);
      },
    );

    it('rejects unsafe paths and iterations on every file route without a request', async () => {
      await expect(client.listFiles('i 1', 'a/..')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
      await expect(client.fileHistory('i 1', '..')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
      await expect(client.fileAtIteration('i 1', '../a', 1)).rejects.toMatchObject({
        code: 'FILE_NOT_FOUND',
      });
      await expect(client.fileAtIteration('i 1', 'a', -1)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
      await expect(client.fileAtIteration('i 1', 'a', 1.5)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
      expect(fake.requests).toHaveLength(0);
    });

    describe('size limit (fileReadMaxBytes = 1 MiB)', () => {
      const MiB = 1024 * 1024;

      it('serves a file of exactly the limit, with or without a Content-Length', async () => {
        expect((await client.readFile('i 1', `sized/${MiB}`)).size).toBe(MiB);
        expect((await client.readFile('i 1', `chunked/${MiB}`)).size).toBe(MiB);
      });

      it('refuses a larger honest Content-Length with FILE_TOO_LARGE, without retrying', async () => {
        const err = await rejection(client.readFile('i 1', `sized/${MiB + 1}`));
        expect(err).toBeInstanceOf(DomainError);
        expect(err).toMatchObject({ code: 'FILE_TOO_LARGE' });
        expect(fake.requests).toHaveLength(1);
      });

      it('counts the bytes of an answer without a Content-Length and stops reading past the limit', async () => {
        await expect(client.readFile('i 1', `chunked/${MiB + 1}`)).rejects.toMatchObject({
          code: 'FILE_TOO_LARGE',
        });
        await expect(client.readFile('i 1', 'endless.bin')).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
        // The endless answer stopped soon after the client gave up (64 MiB if it had been read to the end).
        await until(() => fake.endlessSent > 0);
        await sleep(50);
        expect(fake.endlessSent).toBeLessThan(16 * MiB);
      });

      it('bounds file_at_iteration the same way', async () => {
        const small = new PodiumClient(config(url, { fileReadMaxBytes: 1024 }));
        await expect(small.fileAtIteration('i 1', 'a.txt', 1)).resolves.toMatchObject({ content: 'v1' });
        await expect(small.fileAtIteration('i 1', 'a.txt', 4)).rejects.toMatchObject({
          code: 'FILE_TOO_LARGE',
        });
      });
    });

    it('maps an upstream 404 to FILE_NOT_FOUND, without retrying', async () => {
      await expect(client.readFile('i 1', 'missing.txt')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
      await expect(client.fileAtIteration('i 1', 'a.txt', 9)).rejects.toMatchObject({
        code: 'FILE_NOT_FOUND',
      });
      expect(fake.requests).toHaveLength(2);
    });
  });
});

describe('PodiumConnection', () => {
  let fake: FakePodium;
  let client: PodiumClient;
  const open: PodiumConnection[] = [];

  async function connect(id = 'inst'): Promise<PodiumConnection> {
    const connection = await client.connect(id);
    open.push(connection);
    return connection;
  }

  beforeEach(async () => {
    fake = new FakePodium();
    client = new PodiumClient(config(await fake.start()));
    fake.addInstance('inst');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
    await fake.stop();
  });

  it('opens with the bearer key, delivers the first frame and later frames, and drops malformed ones', async () => {
    fake.greeting = [
      JSON.stringify({ messageType: 'created', content: { event_type: 'created', turn_id: 't1' } }),
    ];
    const frames: unknown[] = [];
    const connection = await connect();
    // The frame sent with the upgrade arrived before anyone could subscribe: it was buffered.
    await sleep(20);
    connection.on('event', (f) => frames.push(f));
    await until(() => frames.length === 1);
    expect(frames).toEqual([{ messageType: 'created', content: { event_type: 'created', turn_id: 't1' } }]);
    expect(fake.upgrades).toEqual([{ url: '/api/v1/instances/inst/ws', auth: `Bearer ${API_KEY}` }]);

    fake.lastSocket.send('{not json');
    fake.lastSocket.send('[1,2]');
    fake.lastSocket.send(JSON.stringify({ messageType: 'update', content: { text: 'hi' } }));
    await until(() => frames.length === 2);
    expect(frames[1]).toEqual({ messageType: 'update', content: { text: 'hi' } });
    expect(connection.malformedFrames).toBe(2);
    expect(connection.state).toBe('open');
  });

  it('sends control envelopes to the server', async () => {
    const connection = await connect();
    connection.send(processMessage('hello', 't1'));
    connection.send(steerMessage('faster', 't1'));
    await until(() => fake.received.length === 2);
    expect(fake.received).toEqual([
      { type: 'process_message', content: { text: 'hello', turn_id: 't1' } },
      { type: 'steer', content: { text: 'faster', turn_id: 't1' } },
    ]);
  });

  it('rejects connect with a PodiumError when the upgrade is refused', async () => {
    const err = await rejection(client.connect('unknown'));
    expect(err).toBeInstanceOf(PodiumError);
    expect(err).toMatchObject({ kind: 'http', status: 404 });
  });

  it('reconnects after the server drops the socket while the instance is alive', async () => {
    const connection = await connect();
    const log: string[] = [];
    connection.on('reconnecting', ({ attempt }) => log.push(`reconnecting ${attempt}`));
    connection.on('reconnected', ({ attempt }) => log.push(`reconnected ${attempt}`));
    const frames: unknown[] = [];
    connection.on('event', (f) => frames.push(f));
    await until(() => frames.length === 1); // greeting

    fake.lastSocket.terminate();
    await once(connection, 'reconnected');
    expect(log).toEqual(['reconnecting 1', 'reconnected 1']);
    expect(connection.state).toBe('open');
    expect(fake.sockets).toHaveLength(2);

    await until(() => frames.length === 2); // greeting on the new socket
    connection.send(processMessage('again', 't2'));
    await until(() => fake.received.length === 1);
  });

  it('treats a socket dropped right after the handshake as unexpected and reconnects', async () => {
    fake.dropNextSockets = 1;
    const connection = await connect();
    const frames: unknown[] = [];
    connection.on('event', (f) => frames.push(f));
    // Whether the drop reached us before or after connect() resolved, a reconnect follows (after a timer).
    await once(connection, 'reconnected');
    expect(connection.state).toBe('open');
    await until(() => frames.length >= 1); // at least the greeting of the new socket
    expect(fake.sockets).toHaveLength(2);
  });

  it('throws a PodiumError from send while reconnecting', async () => {
    const connection = await connect();
    const reconnecting = once(connection, 'reconnecting');
    fake.lastSocket.terminate();
    await reconnecting;
    expect(() => connection.send(processMessage('x', 't'))).toThrow(PodiumError);
    await once(connection, 'reconnected');
  });

  it('is lost at once when the instance is no longer alive', async () => {
    const connection = await connect();
    const lost = once(connection, 'lost');
    fake.instances.get('inst')!.status = 'stopped';
    fake.lastSocket.terminate();
    expect(await lost).toEqual([{ reason: 'instance_not_alive' }]);
    expect(connection.state).toBe('lost');
    expect(fake.sockets).toHaveLength(1);
  });

  it('is lost after the reconnect attempts are exhausted', async () => {
    const connection = await connect();
    const attempts: number[] = [];
    const delays: number[] = [];
    connection.on('reconnecting', ({ attempt, delayMs }) => {
      attempts.push(attempt);
      delays.push(delayMs);
    });
    const lost = once(connection, 'lost');
    fake.rejectUpgrades = 503;
    fake.lastSocket.terminate();
    expect(await lost).toEqual([{ reason: 'reconnect_exhausted' }]);
    expect(attempts).toEqual([1, 2, 3]);
    expect(delays).toEqual([10, 20, 40]);
    expect(fake.upgrades).toHaveLength(4);
  });

  it('fails fast on connect while the circuit is open', async () => {
    const port = (fake.server.address() as AddressInfo).port;
    const guarded = new PodiumClient(
      config(`http://127.0.0.1:${port}`, { breakerThreshold: 1, breakerCooldownMs: 10_000 }),
    );
    fake.rejectUpgrades = 502;
    expect(await rejection(guarded.connect('inst'))).toMatchObject({ kind: 'http', status: 502 });
    expect(await rejection(guarded.connect('inst'))).toMatchObject({ kind: 'circuit_open' });
    expect(fake.upgrades).toHaveLength(1);
  });

  it('keeps delivering when an event listener throws', async () => {
    const connection = await connect();
    const frames: unknown[] = [];
    let calls = 0;
    connection.on('event', (f) => {
      calls += 1;
      if (calls === 1) throw new Error('listener bug');
      frames.push(f);
    });
    fake.lastSocket.send(JSON.stringify({ messageType: 'update', content: { text: 'x' } }));
    await until(() => frames.length === 1);
    expect(frames).toEqual([{ messageType: 'update', content: { text: 'x' } }]);
    expect(connection.state).toBe('open');
  });

  it('close() emits closed once, never reconnects and is idempotent', async () => {
    const connection = await connect();
    const events: string[] = [];
    connection.on('closed', () => events.push('closed'));
    connection.on('reconnecting', () => events.push('reconnecting'));
    connection.on('lost', () => events.push('lost'));
    const first = connection.close();
    const second = connection.close();
    await Promise.all([first, second]);
    await connection.close();
    await sleep(50); // longer than the first reconnect delay
    expect(events).toEqual(['closed']);
    expect(connection.state).toBe('closed');
    expect(fake.upgrades).toHaveLength(1);
    expect(() => connection.send(processMessage('x', 't'))).toThrow(PodiumError);
  });

  it('close() during a reconnect wait stops the reconnect', async () => {
    const slow = new PodiumClient(
      config(`http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`, { reconnectBaseMs: 200 }),
    );
    const connection = await slow.connect('inst');
    const reconnecting = once(connection, 'reconnecting');
    fake.lastSocket.terminate();
    await reconnecting;
    const events: string[] = [];
    connection.on('closed', () => events.push('closed'));
    connection.on('reconnected', () => events.push('reconnected'));
    await connection.close();
    await sleep(250);
    expect(events).toEqual(['closed']);
    expect(fake.upgrades).toHaveLength(1);
  });
});

describe('PodiumClient tracing', () => {
  let fake: FakePodium;
  let client: PodiumClient;
  let provider: NodeTracerProvider;
  let exporter: InMemorySpanExporter;

  beforeEach(async () => {
    fake = new FakePodium();
    client = new PodiumClient(config(await fake.start()));
    fake.addInstance('a');
    exporter = new InMemorySpanExporter(); // one per provider: shutting a provider down stops its exporter
    provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    provider.register();
    tracing.install(provider.getTracer('spec'));
  });
  afterEach(async () => {
    tracing.install(null);
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    await fake.stop();
  });

  const traceparent = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

  it('makes each attempt a client span, child of the active span, and sends its traceparent', async () => {
    fake.script.push({ status: 503 });
    await tracing.inSpan('caller', SpanKind.SERVER, {}, async () => {
      expect(await client.isAlive('a')).toBe(true);
    });
    const spans = exporter.getFinishedSpans();
    const caller = spans.find((s) => s.name === 'caller')!;
    const attempts = spans.filter((s) => s.name === 'podium GET /api/v1/instances/:id');
    expect(attempts.map((s) => s.attributes['http.response.status_code'])).toEqual([503, 200]);
    expect(attempts.map((s) => s.status.code)).toEqual([2, 0]); // ERROR, then UNSET
    for (const s of attempts) {
      expect(s.kind).toBe(SpanKind.CLIENT);
      expect(s.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
      expect(s.spanContext().traceId).toBe(caller.spanContext().traceId);
    }
    // Each request carried the trace context of its own attempt's span.
    expect(fake.traceparents.map((h) => traceparent.exec(h ?? '')?.[2])).toEqual(
      attempts.map((s) => s.spanContext().spanId),
    );
  });

  it('makes the event-stream handshake a client span and sends its traceparent with the upgrade', async () => {
    const connection = await client.connect('a');
    await connection.close();
    const [handshake] = exporter
      .getFinishedSpans()
      .filter((s) => s.name === 'podium WS /api/v1/instances/:id/ws');
    expect(handshake.kind).toBe(SpanKind.CLIENT);
    expect(traceparent.exec(fake.traceparents[0] ?? '')?.[2]).toBe(handshake.spanContext().spanId);
  });

  it('marks a refused handshake failed, with the status', async () => {
    fake.rejectUpgrades = 503;
    await rejection(client.connect('a'));
    const [handshake] = exporter.getFinishedSpans();
    expect(handshake.attributes['http.response.status_code']).toBe(503);
    expect(handshake.status.code).toBe(2);
  });

  it('sends no traceparent and records nothing with tracing off', async () => {
    tracing.install(null);
    expect(await client.isAlive('a')).toBe(true);
    await (await client.connect('a')).close();
    expect(fake.traceparents).toEqual([undefined, undefined]);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
