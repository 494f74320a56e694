import pino from 'pino';
import type { WebSocket } from 'ws';
import { Connection, SerializedEvent, withRequestId } from './connection';

/** A socket whose send buffer the test controls: the slow-consumer policy only reads bufferedAmount. */
class FakeSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: string[] = [];
  closed?: { code: number; reason: string };
  send(frame: string) {
    this.sent.push(frame);
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
    this.readyState = 2;
  }
  terminate() {
    this.readyState = 3;
  }
}

function connection(limits = { skipBytes: 1000, closeBytes: 5000, stallMs: 50 }) {
  const socket = new FakeSocket();
  const conn = new Connection(
    'c1',
    socket as unknown as WebSocket,
    '127.0.0.1',
    1,
    pino({ level: 'silent' }),
    { max: 60, windowMs: 10_000 },
    limits,
  );
  return { socket, conn };
}

describe('Connection slow-consumer policy', () => {
  it('sends everything while the buffer is below the skip threshold', () => {
    const { socket, conn } = connection();
    socket.bufferedAmount = 999;
    expect(conn.sendFrame('a', true)).toBe(true);
    expect(conn.sendFrame('b', false)).toBe(true);
    expect(socket.sent).toEqual(['a', 'b']);
  });

  it('skips ephemeral frames above the skip threshold but never durable ones', () => {
    const { socket, conn } = connection();
    socket.bufferedAmount = 1500;
    expect(conn.sendFrame('delta', true)).toBe(false);
    expect(conn.sendFrame('durable', false)).toBe(true);
    expect(socket.sent).toEqual(['durable']);
    expect(conn.skippedFrames).toBe(1);
    expect(socket.closed).toBeUndefined();
  });

  it('closes with 1013 above the close threshold', () => {
    const { socket, conn } = connection();
    socket.bufferedAmount = 5001;
    expect(conn.sendFrame('durable', false)).toBe(false);
    expect(socket.closed).toEqual({ code: 1013, reason: 'slow consumer' });
    expect(conn.sendFrame('after', false)).toBe(false);
    expect(socket.sent).toEqual([]);
  });

  it('closes a socket that stays congested for the stall time, even with nothing more to send', async () => {
    const { socket, conn } = connection();
    socket.bufferedAmount = 2000;
    conn.sendFrame('delta', true);
    await new Promise((r) => setTimeout(r, 80));
    expect(socket.closed?.code).toBe(1013);
  });

  it('does not close a socket that caught up before the stall time', async () => {
    const { socket, conn } = connection();
    socket.bufferedAmount = 2000;
    conn.sendFrame('delta', true);
    socket.bufferedAmount = 10;
    await new Promise((r) => setTimeout(r, 80));
    expect(socket.closed).toBeUndefined();
    expect(conn.sendFrame('next', true)).toBe(true);
  });
});

describe('Connection holds a joining session', () => {
  it('holds live frames of that session and releases those above the replayed seq, in order', () => {
    const { socket, conn } = connection();
    conn.hold('s1', 1000);
    conn.deliver('f5', false, 's1', 5);
    conn.deliver('other', false, 's2', 1);
    conn.deliver('f6', true, 's1', 6);
    conn.deliver('f7', false, 's1', 7);
    expect(socket.sent).toEqual(['other']);
    conn.release('s1', 5);
    expect(socket.sent).toEqual(['other', 'f6', 'f7']);
    conn.deliver('f8', false, 's1', 8);
    expect(socket.sent).toEqual(['other', 'f6', 'f7', 'f8']);
  });

  it('closes with 1013 once the held frames pass the bound, keeping nothing', () => {
    const { socket, conn } = connection();
    conn.hold('s1', 10);
    conn.deliver('12345', false, 's1', 1);
    conn.deliver('67890', true, 's1', 2);
    expect(socket.closed).toBeUndefined();
    conn.deliver('x', false, 's1', 3);
    expect(socket.closed).toEqual({ code: 1013, reason: 'join backlog too large' });
    conn.release('s1', 0);
    expect(socket.sent).toEqual([]);
  });

  it('counts bytes, not characters', () => {
    const { socket, conn } = connection();
    conn.hold('s1', 10);
    conn.deliver('ééééé', false, 's1', 1); // 10 bytes
    expect(socket.closed).toBeUndefined();
    conn.deliver('é', false, 's1', 2);
    expect(socket.closed?.code).toBe(1013);
  });
});

describe('pre-serialised answers', () => {
  it('sends a SerializedEvent as is, with the requestId spliced in', () => {
    const { socket, conn } = connection();
    conn.send(new SerializedEvent('{"type":"events","events":[{"seq":1}],"hasMore":false}'), 'r-1');
    conn.send(new SerializedEvent('{"type":"events","events":[]}'));
    expect(socket.sent.map((f) => JSON.parse(f))).toEqual([
      { type: 'events', events: [{ seq: 1 }], hasMore: false, requestId: 'r-1' },
      { type: 'events', events: [] },
    ]);
  });

  it('withRequestId escapes the id as JSON', () => {
    expect(JSON.parse(withRequestId('{"a":1}', 'x"y'))).toEqual({ a: 1, requestId: 'x"y' });
    expect(withRequestId('{"a":1}', undefined)).toBe('{"a":1}');
  });
});

describe('Connection error reporting', () => {
  it('tells its events of every error it sends, with the code', () => {
    const seen: { name: string; code: string }[] = [];
    const socket = new FakeSocket();
    const conn = new Connection(
      'c2',
      socket as unknown as WebSocket,
      '127.0.0.1',
      1,
      pino({ level: 'silent' }),
      { max: 60, windowMs: 10_000 },
      { skipBytes: 1000, closeBytes: 5000, stallMs: 50 },
      { emit: (name, { code }) => seen.push({ name, code }) },
    );
    conn.sendError('RATE_LIMITED', 'slow down', 'r1');
    expect(seen).toEqual([{ name: 'connection.error_sent', code: 'RATE_LIMITED' }]);
    expect(JSON.parse(socket.sent[0])).toMatchObject({
      type: 'error',
      code: 'RATE_LIMITED',
      requestId: 'r1',
    });
  });
});
