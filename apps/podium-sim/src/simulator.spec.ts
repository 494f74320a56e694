/**
 * Black-box tests of the Podium simulator: real HTTP (fetch / node:http) and a real `ws` client
 * against an in-process simulator on an ephemeral port.
 */
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { startPodiumSim, type PodiumSimHandle } from './simulator';

const KEY = 'pod_test_key';
const AUTH = { authorization: `Bearer ${KEY}` };

interface Frame {
  messageType: string;
  content: Record<string, any>;
}

let sim: PodiumSimHandle;

beforeAll(async () => {
  sim = await startPodiumSim({ port: 0, apiKey: KEY, tokenDelayMs: 1, log: false });
});
afterAll(() => sim.close());
beforeEach(async () => {
  await call('POST', '/_sim/reset', { instances: true });
});

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = AUTH) {
  const res = await fetch(sim.url + path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** GET with the path sent byte for byte (fetch would normalise `..`). */
function rawGet(path: string): Promise<{ status: number; body: any }> {
  const { hostname, port } = new URL(sim.url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, headers: AUTH }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function createInstance(agentType: string): Promise<string> {
  const res = await call('POST', '/api/v1/instances', { deployment_id: `${agentType}:1.0.0@local` });
  expect(res.status).toBe(201);
  return res.body.instance_id;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class EventClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<number>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(data.toString())));
    this.closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  }

  static connect(instanceId: string, headers: Record<string, string> = AUTH): Promise<EventClient> {
    const ws = new WebSocket(sim.wsUrl(instanceId), { headers });
    const client = new EventClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(type: string, content: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ type, content }));
  }

  types(): string[] {
    return this.frames.map((f) => f.messageType);
  }

  async waitFor(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(pred);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out; frames so far: ${this.types().join(', ')}`);
      await sleep(5);
    }
  }

  waitForType(type: string, timeoutMs?: number): Promise<Frame> {
    return this.waitFor((f) => f.messageType === type, timeoutMs);
  }

  close(): void {
    this.ws.close();
  }
}

/** Status code of a refused upgrade. */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('upgrade unexpectedly accepted')));
    ws.once('error', () => undefined);
  });
}

const textOf = (frames: Frame[]) =>
  frames
    .filter((f) => f.messageType === 'stream_update')
    .map((f) => f.content.text)
    .join('');

describe('auth', () => {
  it('refuses REST calls without or with a wrong bearer key', async () => {
    const none = await call('POST', '/api/v1/instances', { deployment_id: 'echo:1.0.0@local' }, {});
    expect(none.status).toBe(401);
    expect(typeof none.body.error).toBe('string');
    const wrong = await call('GET', '/api/v1/instances/x', undefined, { authorization: 'Bearer pod_nope' });
    expect(wrong.status).toBe(401);
    const stats = await call('GET', '/_sim/stats');
    expect(stats.body.instancesCreated).toBe(0);
  });

  it('refuses event-socket upgrades without the key, and for unknown instances', async () => {
    const id = await createInstance('echo');
    expect(await upgradeStatus(sim.wsUrl(id), {})).toBe(401);
    expect(await upgradeStatus(sim.wsUrl(id), { authorization: 'Bearer wrong' })).toBe(401);
    expect(await upgradeStatus(sim.wsUrl('inst_missing'), AUTH)).toBe(404);
  });

  it('accepts any key when the configured key is empty', async () => {
    const open = await startPodiumSim({ port: 0, apiKey: '', log: false });
    try {
      const res = await fetch(`${open.url}/api/v1/instances`, {
        method: 'POST',
        headers: { authorization: 'Bearer whatever' },
        body: JSON.stringify({ deployment_id: 'echo:1.0.0@local' }),
      });
      expect(res.status).toBe(201);
    } finally {
      await open.close();
    }
  });
});

describe('trace context', () => {
  it('records the last traceparent of API requests and of event-socket upgrades; reset clears them', async () => {
    const id = await createInstance('echo');
    expect((await call('GET', '/_sim/stats')).body).toMatchObject({
      lastTraceparent: null,
      lastStreamTraceparent: null,
    });
    const http = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const stream = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    await call('GET', `/api/v1/instances/${id}`, undefined, { ...AUTH, traceparent: http });
    await call('GET', `/api/v1/instances/${id}`); // without one: the last one seen stays
    expect(await upgradeStatus(sim.wsUrl('missing'), { ...AUTH, traceparent: stream })).toBe(404);
    expect((await call('GET', '/_sim/stats')).body).toMatchObject({
      lastTraceparent: http,
      lastStreamTraceparent: stream,
    });
    await call('POST', '/_sim/reset');
    expect((await call('GET', '/_sim/stats')).body.lastTraceparent).toBeNull();
  });
});

describe('instances', () => {
  it('creates, describes, stops, then answers 404', async () => {
    const created = await call('POST', '/api/v1/instances', {
      deployment_id: 'echo:1.0.0@local',
      agent_id: 'sess-1',
      secrets: { TOKEN: 's3cret' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      instance_id: expect.stringMatching(/^inst_/),
      deployment_id: 'echo:1.0.0@local',
      status: 'running',
    });
    const id = created.body.instance_id;
    expect((await call('GET', `/api/v1/instances/${id}`)).body).toEqual(created.body);
    expect((await call('DELETE', `/api/v1/instances/${id}`)).status).toBe(204);
    expect((await call('GET', `/api/v1/instances/${id}`)).status).toBe(404);
    expect((await call('DELETE', `/api/v1/instances/${id}`)).status).toBe(404);
    const stats = (await call('GET', '/_sim/stats')).body;
    expect(stats).toMatchObject({ instancesCreated: 1, instancesStopped: 1, liveInstances: 0 });
  });

  it('rejects unknown agent types with 400, bad bodies with 400, and `fail` with 500', async () => {
    const unknown = await call('POST', '/api/v1/instances', { deployment_id: 'nope:1.0.0@local' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toContain('nope');
    expect((await call('POST', '/api/v1/instances', {})).status).toBe(400);
    expect(
      (await call('POST', '/api/v1/instances', { deployment_id: 'echo:1@x', secrets: 'x' })).status,
    ).toBe(400);
    const fail = await call('POST', '/api/v1/instances', { deployment_id: 'fail:1.0.0@local' });
    expect(fail.status).toBe(500);
    expect(typeof fail.body.error).toBe('string');
    expect((await call('GET', '/_sim/stats')).body.instancesCreated).toBe(0);
  });

  it('announces sandbox.removed and closes the event socket normally on DELETE', async () => {
    const id = await createInstance('coding-agent');
    const client = await EventClient.connect(id);
    await call('DELETE', `/api/v1/instances/${id}`);
    expect(await client.closed).toBe(1000);
    expect(client.frames).toEqual([
      {
        messageType: 'sandbox.removed',
        content: { event_type: 'sandbox.removed', reason: 'instance stopped' },
      },
    ]);
  });
});

describe('files', () => {
  it('serves the seeded workspace with iterations', async () => {
    const id = await createInstance('echo');
    const base = `/api/v1/instances/${id}/files`;
    const root = await call('GET', `${base}?path=/&depth=1`);
    expect(root.body).toEqual([
      expect.objectContaining({
        path: 'README.md',
        name: 'README.md',
        type: 'file',
        size: expect.any(Number),
      }),
      { path: 'src', name: 'src', type: 'directory' },
    ]);
    const deep = await call('GET', `${base}?depth=2`);
    expect(deep.body.map((e: any) => e.path)).toEqual(['README.md', 'src', 'src/index.ts']);
    expect((await call('GET', `${base}?path=src`)).body.map((e: any) => e.path)).toEqual(['src/index.ts']);

    const readme = await call('GET', `${base}/README.md`);
    expect(readme.body).toMatchObject({ path: 'README.md', encoding: 'utf8', iteration: 2 });
    expect(readme.body.size).toBe(Buffer.byteLength(readme.body.content));
    const history = (await call('GET', `${base}/README.md/history`)).body;
    expect(history.map((h: any) => h.iteration)).toEqual([1, 2]);
    expect(history[0].hash).toMatch(/^[0-9a-f]{64}$/);
    expect(history[1].timestamp).toBeGreaterThan(history[0].timestamp);
    const first = (await call('GET', `${base}/README.md/at/1`)).body;
    expect(first).toMatchObject({ iteration: 1, content: '# Workspace\n' });
    expect((await call('GET', `${base}/src/index.ts`)).body.iteration).toBe(1);
    expect((await call('GET', `${base}/src%2Findex.ts`)).status).toBe(400);
  });

  it('answers 404 for missing paths and iterations, 400 for `..` and bad input', async () => {
    const id = await createInstance('echo');
    const base = `/api/v1/instances/${id}/files`;
    expect((await call('GET', `${base}/nope.txt`)).status).toBe(404);
    expect((await call('GET', `${base}/nope.txt/history`)).status).toBe(404);
    expect((await call('GET', `${base}/README.md/at/3`)).status).toBe(404);
    expect((await call('GET', `${base}/README.md/at/zero`)).status).toBe(400);
    expect((await call('GET', `${base}?path=missing`)).status).toBe(404);
    expect((await call('GET', `${base}?depth=0`)).status).toBe(400);
    expect((await rawGet(`${base}/../README.md`)).status).toBe(400);
    expect((await rawGet(`${base}/src/%2E%2E/README.md`)).status).toBe(400);
    expect((await rawGet(`${base}?path=src/../..`)).status).toBe(400);
    expect((await call('GET', `/api/v1/instances/inst_missing/files`)).status).toBe(404);
  });
});

describe('echo agent', () => {
  it('streams the prompt back in several chunks and ends with stream_end', async () => {
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    const prompt = 'Hello podium, please echo this sentence back 🎉.';
    client.send('process_message', { text: prompt, turn_id: 't-echo' });
    const end = await client.waitForType('stream_end');

    expect(client.types()[0]).toBe('stream_start');
    expect(client.types().slice(-2)).toEqual(['usage', 'stream_end']);
    const updates = client.frames.filter((f) => f.messageType === 'stream_update');
    expect(updates.length).toBeGreaterThan(3);
    expect(textOf(client.frames)).toBe(prompt);
    expect(end.content).toEqual({ event_type: 'stream_end', turn_id: 't-echo', text: prompt });
    for (const f of client.frames) {
      expect(f.content.event_type).toBe(f.messageType);
      expect(f.content.turn_id).toBe('t-echo');
    }
    const usage = client.frames.find((f) => f.messageType === 'usage')!.content;
    expect(usage).toMatchObject({ model: 'sim-echo-1', cache_read_tokens: 0, cache_write_tokens: 0 });
    expect(usage.input_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens).toBeGreaterThan(0);
    const stats = (await call('GET', '/_sim/stats')).body;
    expect(stats).toMatchObject({
      turnsReceived: 1,
      messagesReceived: { process_message: 1 },
      connections: 1,
    });
  });

  it('answers a second process_message during a turn with error code busy', async () => {
    await call('POST', '/_sim/config', { tokenDelayMs: 10 });
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'a fairly long prompt to keep the turn busy', turn_id: 't1' });
    await client.waitForType('stream_start');
    client.send('process_message', { text: 'second', turn_id: 't2' });
    const busy = await client.waitFor((f) => f.content.turn_id === 't2');
    expect(busy).toEqual({
      messageType: 'error',
      content: { event_type: 'error', turn_id: 't2', message: expect.any(String), code: 'busy' },
    });
    const end = await client.waitForType('stream_end');
    expect(end.content.turn_id).toBe('t1');
    expect(client.frames.some((f) => f.content.turn_id === 't2' && f.messageType !== 'error')).toBe(false);
  });

  it('bench:N streams N 16-char frames without the token delay', async () => {
    await call('POST', '/_sim/config', { tokenDelayMs: 200 });
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'bench:2000', turn_id: 'tb' });
    await client.waitFor(
      (f) => f.messageType === 'stream_update' && f.content.text.startsWith('000000000001999'),
    );
    const updates = client.frames.filter((f) => f.messageType === 'stream_update');
    expect(updates).toHaveLength(2000);
    expect(updates.every((f) => f.content.text.length === 16)).toBe(true);
    await call('POST', '/_sim/config', { tokenDelayMs: 0 });
    const end = await client.waitForType('stream_end');
    expect(end.content.text).toHaveLength(2000 * 16);
  });

  it('pace:N:R:B streams N send-time-stamped frames at R frames/s in bursts of B', async () => {
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    const before = Date.now();
    client.send('process_message', { text: 'pace:40:400:10', turn_id: 'tp' });
    const end = await client.waitForType('stream_end');
    const updates = client.frames.filter((f) => f.messageType === 'stream_update');
    expect(updates).toHaveLength(40);
    const stamps = updates.map((f) => /^@(\d+\.\d+)#(\d+) $/.exec(f.content.text));
    expect(stamps.every((m, i) => m !== null && Number(m[2]) === i)).toBe(true);
    const times = stamps.map((m) => Number(m![1]));
    expect(times[0]).toBeGreaterThanOrEqual(before - 1);
    // 4 bursts of 10, 25 ms apart: the last burst starts ~75 ms after the first.
    expect(times[39] - times[0]).toBeGreaterThanOrEqual(70);
    expect(end.content.text).toContain('#39 ');
  });
});

describe('coding-agent', () => {
  const FIRST_TURN = [
    'stream_start',
    'sandbox.init',
    'sandbox.provisioning',
    'sandbox.ready',
    'thinking.start',
    'thinking.progress',
    'thinking.progress',
    'thinking.progress',
    'thinking.complete',
    'tool.call_start',
    'tool.call_delta',
    'tool.call_delta',
    'tool.call_delta',
    'tool.call',
    'file.changed',
    'tool.result',
    'tool.call_start',
    'tool.call',
    'terminal.stream',
    'terminal.stream',
    'terminal.complete',
    'tool.result',
  ];

  it('runs the scripted turn and writes hello.txt as a new iteration', async () => {
    const id = await createInstance('coding-agent');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'write a greeting file', turn_id: 'c1' });
    const end = await client.waitForType('stream_end');

    const types = client.types();
    expect(types.slice(0, FIRST_TURN.length)).toEqual(FIRST_TURN);
    const tail = types.slice(FIRST_TURN.length);
    expect(tail.slice(-2)).toEqual(['usage', 'stream_end']);
    expect(tail.slice(0, -2).length).toBeGreaterThan(1);
    expect(tail.slice(0, -2).every((t) => t === 'stream_update')).toBe(true);

    const byType = (t: string) => client.frames.filter((f) => f.messageType === t).map((f) => f.content);
    expect(byType('sandbox.init')[0].provider).toBe('docker');
    expect(byType('sandbox.provisioning')[0].phase).toBe('creating');
    const progress = byType('thinking.progress').map((c) => c.text);
    expect(byType('thinking.complete')[0].text).toBe(progress.join(''));

    const [writeStart, runStart] = byType('tool.call_start');
    expect(writeStart.tool_name).toBe('write_file');
    expect(runStart.tool_name).toBe('run_command');
    const [writeCall, runCall] = byType('tool.call');
    const deltas = byType('tool.call_delta');
    expect(deltas.every((d) => d.tool_call_id === writeStart.tool_call_id)).toBe(true);
    expect(JSON.parse(deltas.map((d) => d.arguments_delta).join(''))).toEqual(writeCall.arguments);
    expect(writeCall).toMatchObject({ tool_call_id: writeStart.tool_call_id, tool_name: 'write_file' });
    expect(writeCall.arguments.path).toBe('hello.txt');
    const content: string = writeCall.arguments.content;
    expect(byType('file.changed')[0]).toMatchObject({
      path: 'hello.txt',
      change_type: 'created',
      iteration: 1,
    });
    expect(byType('tool.result')[0]).toMatchObject({
      tool_call_id: writeStart.tool_call_id,
      output: 'ok',
      is_error: false,
    });

    expect(runCall).toMatchObject({
      tool_call_id: runStart.tool_call_id,
      arguments: { command: 'cat hello.txt' },
    });
    const streams = byType('terminal.stream');
    expect(streams.every((s) => s.stream === 'stdout' && s.command === 'cat hello.txt')).toBe(true);
    expect(streams.map((s) => s.data).join('')).toBe(content);
    expect(byType('terminal.complete')[0]).toMatchObject({
      exit_code: 0,
      output: content,
      tool_call_id: runStart.tool_call_id,
    });
    expect(byType('tool.result')[1]).toMatchObject({
      tool_name: 'run_command',
      output: content,
      is_error: false,
    });
    expect(byType('usage')[0]).toMatchObject({ model: 'sim-coder-1' });
    expect(end.content.text).toBe(textOf(client.frames));
    expect(end.content.text).toContain('hello.txt');

    const base = `/api/v1/instances/${id}/files/hello.txt`;
    expect((await call('GET', base)).body).toMatchObject({ path: 'hello.txt', content, iteration: 1 });
    const history = (await call('GET', `${base}/history`)).body;
    expect(history).toHaveLength(1);
    expect((await call('GET', `${base}/at/1`)).body.content).toBe(content);

    // Second turn: no sandbox provisioning, the file gets iteration 2.
    client.frames.length = 0;
    client.send('process_message', { text: 'again', turn_id: 'c2' });
    await client.waitForType('stream_end');
    expect(client.types().some((t) => t.startsWith('sandbox.'))).toBe(false);
    expect(client.frames.find((f) => f.messageType === 'file.changed')!.content).toMatchObject({
      change_type: 'modified',
      iteration: 2,
    });
    expect((await call('GET', `${base}/history`)).body.map((h: any) => h.iteration)).toEqual([1, 2]);
    expect((await call('GET', `${base}/at/1`)).body.content).toBe(content);
    expect((await call('GET', base)).body.content).toContain('Turn 2: again');
  });

  it('waits for answer_question and uses the answer', async () => {
    const id = await createInstance('coding-agent');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'Ask me a QUESTION first', turn_id: 'q' });
    const question = await client.waitForType('tool.question_requested');
    expect(question.content.questions).toEqual([
      { id: 'q1', question: 'Which language?', options: ['ts', 'py'], multi_select: false },
    ]);
    const count = client.frames.length;
    await sleep(150);
    expect(client.frames.length).toBe(count);
    expect(client.types().includes('tool.call_start')).toBe(false);

    client.send('answer_question', { request_id: 'unknown', answers: { q1: 'ts' } });
    client.send('answer_question', { request_id: question.content.request_id, answers: { q1: 'py' } });
    const resolved = await client.waitForType('tool.approval_resolved');
    expect(resolved.content).toMatchObject({
      request_id: question.content.request_id,
      answers: { q1: 'py' },
    });
    const end = await client.waitForType('stream_end');
    expect(end.content.text).toContain('py');
    const file = await call('GET', `/api/v1/instances/${id}/files/hello.txt`);
    expect(file.body.content).toContain('Language: py');
  });

  it('skips the command when permission is denied and runs it when approved', async () => {
    const id = await createInstance('coding-agent');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'needs permission', turn_id: 'p1' });
    const asked = await client.waitForType('tool.permission_requested');
    expect(asked.content).toMatchObject({
      tool_name: 'run_command',
      description: expect.any(String),
      input: { command: 'cat hello.txt' },
    });
    client.send('permission_response', { request_id: asked.content.request_id, approved: false });
    const end = await client.waitForType('stream_end');
    expect(client.frames.find((f) => f.messageType === 'tool.approval_resolved')!.content).toMatchObject({
      request_id: asked.content.request_id,
      approved: false,
    });
    expect(client.types()).not.toContain('terminal.stream');
    expect(end.content.text).toContain('permission was denied');

    client.frames.length = 0;
    client.send('process_message', { text: 'permission again', turn_id: 'p2' });
    const again = await client.waitForType('tool.permission_requested');
    client.send('permission_response', { request_id: again.content.request_id, approved: true });
    await client.waitForType('stream_end');
    expect(client.types().filter((t) => t === 'terminal.stream')).toHaveLength(2);
  });

  it('ends promptly with stopped:true when interrupted while waiting', async () => {
    const id = await createInstance('coding-agent');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'question please', turn_id: 'qi' });
    await client.waitForType('tool.question_requested');
    client.send('interrupt', { turn_id: 'qi' });
    const end = await client.waitForType('stream_end', 500);
    expect(end.content).toMatchObject({ turn_id: 'qi', stopped: true, text: '' });
    expect(client.types()).not.toContain('tool.call_start');
  });
});

describe('steer and interrupt', () => {
  it('acknowledges a steer in later deltas and the final text', async () => {
    await call('POST', '/_sim/config', { tokenDelayMs: 15 });
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    client.send('process_message', {
      text: 'one two three four five six seven eight nine ten',
      turn_id: 's',
    });
    await client.waitForType('stream_update');
    client.send('steer', { text: 'be brief', turn_id: 's' });
    const end = await client.waitForType('stream_end');
    const acked = client.frames.filter(
      (f) => f.messageType === 'stream_update' && f.content.text.includes('(steered: be brief)'),
    );
    expect(acked).toHaveLength(1);
    expect(end.content.text).toContain('(steered: be brief)');
    expect(end.content.text).toBe(textOf(client.frames));
  });

  it('interrupt ends the turn with the text so far, and the instance takes a new turn', async () => {
    await call('POST', '/_sim/config', { tokenDelayMs: 20 });
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    const prompt = 'x'.repeat(400);
    client.send('process_message', { text: prompt, turn_id: 'i1' });
    await client.waitFor(() => client.frames.filter((f) => f.messageType === 'stream_update').length >= 2);
    client.send('interrupt', { turn_id: 'other-turn' }); // ignored: not the running turn
    client.send('interrupt', { turn_id: 'i1' });
    const end = await client.waitForType('stream_end', 1000);
    expect(end.content.stopped).toBe(true);
    expect(end.content.text).toBe(textOf(client.frames));
    expect(end.content.text.length).toBeLessThan(prompt.length);
    expect(client.types()).not.toContain('error');

    await call('POST', '/_sim/config', { tokenDelayMs: 0 });
    client.frames.length = 0;
    client.send('process_message', { text: 'next', turn_id: 'i2' });
    const next = await client.waitForType('stream_end');
    expect(next.content).toEqual({ event_type: 'stream_end', turn_id: 'i2', text: 'next' });
  });
});

describe('knobs', () => {
  it('rejects unknown or invalid knobs and returns the effective config', async () => {
    expect((await call('POST', '/_sim/config', { failCreat: 1 })).status).toBe(400);
    expect((await call('POST', '/_sim/config', { tokenDelayMs: -1 })).status).toBe(400);
    expect((await call('POST', '/_sim/config', { burst: { frames: 0 } })).status).toBe(400);
    const ok = await call('POST', '/_sim/config', { createDelayMs: 5, upstreamError: true });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ tokenDelayMs: 1, createDelayMs: 5, upstreamError: true, failCreate: 0 });
    const id = await createInstance('echo');
    const reset = await call('POST', '/_sim/reset');
    expect(reset.body.knobs).toMatchObject({ createDelayMs: 0, upstreamError: false });
    expect(reset.body.stats).toMatchObject({ instancesCreated: 0, liveInstances: 1 });
    expect((await call('GET', `/api/v1/instances/${id}`)).status).toBe(200);
    await call('POST', '/_sim/reset', { instances: true });
    expect((await call('GET', `/api/v1/instances/${id}`)).status).toBe(404);
  });

  it('failCreate: the next N creations answer 503', async () => {
    const cfg = await call('POST', '/_sim/config', { failCreate: 2 });
    expect(cfg.body.failCreate).toBe(2);
    const body = { deployment_id: 'echo:1.0.0@local' };
    expect((await call('POST', '/api/v1/instances', body)).status).toBe(503);
    expect((await call('POST', '/api/v1/instances', body)).status).toBe(503);
    expect((await call('POST', '/api/v1/instances', body)).status).toBe(201);
    expect((await call('GET', '/_sim/config')).body.failCreate).toBe(0);
  });

  it('dropStreamAfterFrames: terminates the socket after N frames; the turn continues on a reconnect', async () => {
    await call('POST', '/_sim/config', { dropStreamAfterFrames: 3 });
    const id = await createInstance('echo');
    const first = await EventClient.connect(id);
    const prompt = 'abcdefghijklmnopqrstuvwxyz0123456789';
    first.send('process_message', { text: prompt, turn_id: 'd1' });
    expect(await first.closed).toBe(1006);
    expect(first.types()).toEqual(['stream_start', 'stream_update', 'stream_update']);

    const second = await EventClient.connect(id);
    const end = await second.waitForType('stream_end');
    expect(end.content.text).toBe(prompt);
    expect(textOf(first.frames) + textOf(second.frames)).toBe(prompt);

    // one-shot: the next turn is not dropped
    second.frames.length = 0;
    second.send('process_message', { text: 'again', turn_id: 'd2' });
    await second.waitForType('stream_end');
    expect(second.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('stallAfterFrames: stops sending after N frames with the socket open; interrupt frees the instance', async () => {
    await call('POST', '/_sim/config', { stallAfterFrames: 2 });
    const id = await createInstance('coding-agent');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'go', turn_id: 'st' });
    await client.waitFor(() => client.frames.length >= 2);
    await sleep(200);
    expect(client.types()).toEqual(['stream_start', 'sandbox.init']);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    const described = (await call('GET', '/_sim/instances')).body.find((i: any) => i.instance_id === id);
    expect(described.turn).toMatchObject({ turn_id: 'st', state: 'stalled' });

    client.send('interrupt', { turn_id: 'st' });
    await sleep(100);
    expect(client.frames).toHaveLength(2); // a stalled agent says nothing, even on interrupt
    client.send('process_message', { text: 'next', turn_id: 'st2' });
    const end = await client.waitForType('stream_end');
    expect(end.content.turn_id).toBe('st2');
  });

  it('upstreamError: the next turn ends with an upstream error instead of stream_end', async () => {
    await call('POST', '/_sim/config', { upstreamError: true });
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'hello', turn_id: 'u1' });
    const error = await client.waitForType('error');
    expect(error.content).toEqual({
      event_type: 'error',
      turn_id: 'u1',
      message: expect.any(String),
      code: 'upstream_error',
    });
    await sleep(50);
    expect(client.types()).not.toContain('stream_end');
    expect((await call('GET', '/_sim/config')).body.upstreamError).toBe(false);
    client.send('process_message', { text: 'hello', turn_id: 'u2' });
    expect((await client.waitForType('stream_end')).content.turn_id).toBe('u2');
  });

  it('burst: the next turn starts with N undelayed 16-char deltas', async () => {
    await call('POST', '/_sim/config', { burst: { frames: 50 } });
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    client.send('process_message', { text: 'tail', turn_id: 'b' });
    const end = await client.waitForType('stream_end');
    const updates = client.frames.filter((f) => f.messageType === 'stream_update');
    expect(updates.slice(0, 50).every((f) => f.content.text.length === 16)).toBe(true);
    expect(end.content.text.endsWith('tail')).toBe(true);
    expect(end.content.text).toHaveLength(50 * 16 + 4);
  });

  it('files: writes a file through /_sim; chunkedFiles sends contents without a Content-Length', async () => {
    const id = await createInstance('echo');
    expect(
      (await call('POST', `/_sim/instances/${id}/files`, { path: 'big.txt', bytes: 200_000 })).body,
    ).toMatchObject({ iteration: 1, size: 200_000 });
    await call('POST', `/_sim/instances/${id}/files`, { path: 'big.txt', content: 'small' });
    expect((await call('POST', `/_sim/instances/${id}/files`, { path: '../x', content: 'a' })).status).toBe(
      400,
    );
    expect(
      (await call('POST', '/_sim/instances/inst_missing/files', { path: 'a', content: 'a' })).status,
    ).toBe(404);
    const get = (p: string) => fetch(`${sim.url}/api/v1/instances/${id}/files/${p}`, { headers: AUTH });
    const plain = await get('big.txt/at/1');
    expect(plain.headers.get('content-length')).not.toBeNull();
    expect(((await plain.json()) as any).size).toBe(200_000);
    expect((await call('POST', '/_sim/config', { chunkedFiles: true })).body.chunkedFiles).toBe(true);
    const chunked = await get('big.txt/at/1');
    expect(chunked.headers.get('content-length')).toBeNull();
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(((await chunked.json()) as any).content).toHaveLength(200_000);
    expect(((await (await get('big.txt')).json()) as any).content).toBe('small');
  });

  it('emit: pushes raw frames to the instance socket', async () => {
    const id = await createInstance('echo');
    expect((await call('POST', `/_sim/instances/${id}/emit`, { messageType: 'x', content: {} })).status).toBe(
      409,
    );
    expect((await call('POST', '/_sim/instances/inst_missing/emit', {})).status).toBe(404);
    const client = await EventClient.connect(id);
    const frame = {
      messageType: 'thinking_update',
      content: { text: 'legacy', event_type: 'thinking_update' },
    };
    const res = await call('POST', `/_sim/instances/${id}/emit`, [
      frame,
      { messageType: 'custom', content: {} },
    ]);
    expect(res.body).toEqual({ frames: 2, delivered: 2 });
    await client.waitForType('custom');
    expect(client.frames).toEqual([frame, { messageType: 'custom', content: {} }]);
  });

  it('emit-bulk: writes count frames from a template with the index field, in order, and reports send times', async () => {
    const id = await createInstance('echo');
    const frame = { messageType: 'file.changed', content: { event_type: 'file.changed', path: 'a.ts' } };
    expect((await call('POST', `/_sim/instances/${id}/emit-bulk`, { count: 3, frame })).status).toBe(409);
    expect((await call('POST', '/_sim/instances/inst_missing/emit-bulk', { count: 3, frame })).status).toBe(
      404,
    );
    const client = await EventClient.connect(id);
    for (const bad of [{ count: 0, frame }, { count: 3 }, { count: 3, frame, pace: -1 }]) {
      expect((await call('POST', `/_sim/instances/${id}/emit-bulk`, bad)).status).toBe(400);
    }
    const res = await call('POST', `/_sim/instances/${id}/emit-bulk`, {
      count: 1000,
      frame,
      indexField: 'iteration',
    });
    expect(res.status).toBe(200);
    expect(res.body.sent).toBe(1000);
    expect(res.body.ticks.at(-1)[1]).toBe(1000);
    expect(res.body.endedAt).toBeGreaterThanOrEqual(res.body.startedAt);
    await client.waitFor((f) => f.content.iteration === 999);
    expect(client.frames).toHaveLength(1000);
    expect(client.frames.map((f) => f.content.iteration)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(client.frames[0]).toEqual({
      messageType: 'file.changed',
      content: { ...frame.content, iteration: 0 },
    });
  });

  it('emit-bulk with pace: frame k is not written before k / pace seconds after the start', async () => {
    const id = await createInstance('echo');
    const client = await EventClient.connect(id);
    const frame = { messageType: 'custom', content: {} };
    const res = await call('POST', `/_sim/instances/${id}/emit-bulk`, { count: 50, frame, pace: 500 });
    expect(res.body.sent).toBe(50);
    const ticks: [number, number][] = res.body.ticks;
    let before = 0;
    for (const [t, sent] of ticks) {
      // the last frame of this tick, index sent − 1, was due (sent − 1) / 500 s after the start
      expect(t - res.body.startedAt).toBeGreaterThanOrEqual(((sent - 1) * 1000) / 500 - 1);
      expect(sent).toBeGreaterThan(before);
      before = sent;
    }
    await client.waitFor(() => client.frames.length === 50);
  });
});
