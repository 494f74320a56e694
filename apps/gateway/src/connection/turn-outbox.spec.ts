import pino from 'pino';
import type { WebSocket } from 'ws';
import { Connection } from './connection';
import { FanoutRun, PendingFrames, TurnOutbox, batchFrame } from './turn-outbox';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Records what a v2 connection puts on the wire (strings or shared buffers) and how it was sent. */
class RecordingSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: { data: string | Buffer; binary?: boolean }[] = [];
  closed?: { code: number; reason: string; sentBefore: number };
  send(data: string | Buffer, options?: { binary?: boolean }) {
    this.sent.push({ data, binary: options?.binary });
  }
  close(code: number, reason: string) {
    this.closed = { code, reason, sentBefore: this.sent.length };
    this.readyState = 2;
  }
  terminate() {
    this.readyState = 3;
  }
  get texts(): string[] {
    return this.sent.map((s) => s.data.toString());
  }
}

function v2(limits = { skipBytes: 1 << 20, closeBytes: 4 << 20, stallMs: 1000 }, version = 2) {
  const socket = new RecordingSocket();
  const conn = new Connection(
    `c${Math.random()}`,
    socket as unknown as WebSocket,
    '127.0.0.1',
    version,
    pino({ level: 'silent' }),
    { max: 60, windowMs: 10_000 },
    limits,
  );
  return { socket, conn };
}

describe('PendingFrames', () => {
  it('one frame goes unwrapped, several as one batch in order', () => {
    const p = new PendingFrames();
    p.add('{"a":1}');
    expect(p.take()).toBe('{"a":1}');
    p.add('{"a":1}');
    p.add('{"b":2}');
    p.add('{"c":3}');
    expect(p.take()).toBe('{"type":"batch","events":[{"a":1},{"b":2},{"c":3}]}');
    expect(p.take()).toBeUndefined();
    expect(p.length).toBe(0);
  });

  it('recipients of the same stretch of a run share one encoded batch', () => {
    const run = new FanoutRun();
    const a = new PendingFrames();
    const b = new PendingFrames();
    for (const f of ['{"n":1}', '{"n":2}', '{"n":3}']) {
      const slot = run.add(f);
      a.add(f, slot);
      b.add(f, slot);
    }
    const da = a.take();
    const db = b.take();
    expect(Buffer.isBuffer(da)).toBe(true);
    expect(da).toBe(db); // the same object: serialised and encoded once
    expect(da!.toString()).toBe(batchFrame(['{"n":1}', '{"n":2}', '{"n":3}']));
  });

  it('a recipient that missed a frame of the run, or got a direct frame, builds its own', () => {
    const run = new FanoutRun();
    const full = new PendingFrames();
    const gap = new PendingFrames();
    const mixed = new PendingFrames();
    const s1 = run.add('{"n":1}');
    const s2 = run.add('{"n":2}');
    const s3 = run.add('{"n":3}');
    full.add('{"n":1}', s1);
    full.add('{"n":2}', s2);
    full.add('{"n":3}', s3);
    gap.add('{"n":1}', s1);
    gap.add('{"n":3}', s3); // n:2 skipped (slow consumer) or held
    mixed.add('{"n":1}', s1);
    mixed.add('{"reply":true}');
    mixed.add('{"n":2}', s2);
    expect(full.take()!.toString()).toBe(batchFrame(['{"n":1}', '{"n":2}', '{"n":3}']));
    expect(gap.take()).toBe(batchFrame(['{"n":1}', '{"n":3}']));
    expect(mixed.take()).toBe(batchFrame(['{"n":1}', '{"reply":true}', '{"n":2}']));
  });

  it('a recipient that started later in the run gets only its stretch', () => {
    const run = new FanoutRun();
    const early = new PendingFrames();
    const late = new PendingFrames();
    const s1 = run.add('{"n":1}');
    early.add('{"n":1}', s1);
    const s2 = run.add('{"n":2}');
    early.add('{"n":2}', s2);
    late.add('{"n":2}', s2);
    expect(early.take()!.toString()).toBe(batchFrame(['{"n":1}', '{"n":2}']));
    expect(late.take()!.toString()).toBe('{"n":2}');
  });
});

describe('TurnOutbox', () => {
  it('flushes each queued target once at the end of the turn, in the order they were queued', async () => {
    const outbox = new TurnOutbox();
    const order: string[] = [];
    const a = { flushPending: () => order.push('a') };
    const b = { flushPending: () => order.push('b') };
    outbox.schedule(a);
    outbox.schedule(b);
    outbox.schedule(a);
    expect(order).toEqual([]);
    await nextTurn();
    expect(order).toEqual(['a', 'b']);
    outbox.schedule(b);
    outbox.forget(b);
    await nextTurn();
    expect(order).toEqual(['a', 'b']);
  });

  it('gives each topic its own run per turn, and a new run the next turn', async () => {
    const outbox = new TurnOutbox();
    const s1 = outbox.slot('session:a', 'x');
    const s2 = outbox.slot('session:a', 'y');
    const s3 = outbox.slot('session:b', 'z');
    expect(s1.run).toBe(s2.run);
    expect([s1.index, s2.index]).toEqual([0, 1]);
    expect(s3.run).not.toBe(s1.run);
    outbox.schedule({ flushPending: () => undefined });
    await nextTurn();
    expect(outbox.slot('session:a', 'w').run).not.toBe(s1.run);
  });
});

describe('Connection with protocol v2', () => {
  it('sends a turn’s frames as one text frame at the end of the turn', async () => {
    const { socket, conn } = v2();
    expect(conn.coalesces).toBe(true);
    conn.sendFrame('{"n":1}', false);
    conn.send({ type: 'pong', ts: 5 }, 'r1');
    conn.sendFrame('{"n":3}', true);
    expect(socket.sent).toEqual([]);
    await nextTurn();
    expect(socket.texts).toEqual([
      '{"type":"batch","events":[{"n":1},{"type":"pong","ts":5,"requestId":"r1"},{"n":3}]}',
    ]);
    expect(socket.sent[0].binary).toBe(false);
    conn.sendFrame('{"n":4}', false);
    await nextTurn();
    expect(socket.texts.slice(1)).toEqual(['{"n":4}']);
  });

  it('a v1 connection is unchanged: one frame per event, at once', () => {
    const { socket, conn } = v2(undefined, 1);
    expect(conn.coalesces).toBe(false);
    conn.sendFrame('{"n":1}', false);
    conn.sendFrame('{"n":2}', false);
    expect(socket.texts).toEqual(['{"n":1}', '{"n":2}']);
  });

  it('what the turn already sent leaves before a close frame', () => {
    const { socket, conn } = v2();
    conn.sendFrame('{"type":"server_shutdown"}', false);
    conn.close(1001, 'going away');
    expect(socket.texts).toEqual(['{"type":"server_shutdown"}']);
    expect(socket.closed).toEqual({ code: 1001, reason: 'going away', sentBefore: 1 });
  });

  it('counts queued frames against the slow-consumer thresholds', async () => {
    const { socket, conn } = v2({ skipBytes: 100, closeBytes: 10_000, stallMs: 1000 });
    const delta = `{"d":"${'x'.repeat(60)}"}`;
    expect(conn.sendFrame(delta, true)).toBe(true);
    expect(conn.sendFrame(delta, true)).toBe(true); // 66 queued: still under 100
    expect(conn.sendFrame(delta, true)).toBe(false); // 132 queued: ephemeral skipped
    expect(conn.sendFrame('{"durable":1}', false)).toBe(true); // durable never skipped
    expect(conn.skippedFrames).toBe(1);
    await nextTurn();
    expect(JSON.parse(socket.texts[0]).events).toHaveLength(3);
    conn.close(1000, '');
  });

  it('holds a joining session’s frames and releases them into the same turn’s batch', async () => {
    const { socket, conn } = v2();
    conn.hold('s1', 1 << 20);
    conn.deliver('{"seq":1}', false, 's1', 1);
    conn.deliver('{"seq":2}', false, 's1', 2);
    conn.sendFrame('{"type":"session_state"}', false);
    conn.release('s1', 1);
    await nextTurn();
    expect(socket.texts).toEqual(['{"type":"batch","events":[{"type":"session_state"},{"seq":2}]}']);
  });
});
