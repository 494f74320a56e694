import { ReplyQueue } from './reply-queue';

describe('ReplyQueue: answers leave in the order their frames arrived', () => {
  const setup = () => {
    const written: string[] = [];
    return { written, queue: new ReplyQueue((f) => written.push(f)) };
  };

  it('writes the first open answer at once and holds later ones until it ends', () => {
    const { written, queue } = setup();
    const slow = queue.begin();
    const fast = queue.begin();
    queue.send(fast, 'error for frame 2');
    queue.end(fast);
    expect(written).toEqual([]);
    queue.send(slow, 'pong for frame 1');
    expect(written).toEqual(['pong for frame 1']);
    queue.end(slow);
    expect(written).toEqual(['pong for frame 1', 'error for frame 2']);
  });

  it('flushes a run of ended answers and stops at the next open one, which then writes directly', () => {
    const { written, queue } = setup();
    const [a, b, c, d] = [queue.begin(), queue.begin(), queue.begin(), queue.begin()];
    queue.send(b, 'b1');
    queue.end(b);
    queue.send(c, 'c1');
    queue.send(d, 'd1');
    queue.end(d);
    queue.end(a);
    expect(written).toEqual(['b1', 'c1']);
    queue.send(c, 'c2');
    queue.end(c);
    expect(written).toEqual(['b1', 'c1', 'c2', 'd1']);
  });

  it('runs code as part of an answer across awaits', async () => {
    const { written, queue } = setup();
    const first = queue.begin();
    const second = queue.begin();
    await queue.run(second, async () => {
      await Promise.resolve();
      const reply = ReplyQueue.current(queue);
      expect(reply).toBe(second);
      queue.send(reply!, 'second');
    });
    expect(ReplyQueue.current(queue)).toBeUndefined();
    expect(written).toEqual([]);
    queue.end(second);
    queue.end(first);
    expect(written).toEqual(['second']);
  });

  it('resolves head() when every earlier answer has ended, and at once for the first', async () => {
    const { queue } = setup();
    const first = queue.begin();
    const second = queue.begin();
    await first.head();
    let promoted = false;
    const waiting = second.head().then(() => (promoted = true));
    await Promise.resolve();
    expect(promoted).toBe(false);
    queue.end(first);
    await waiting;
    expect(promoted).toBe(true);
  });

  it('drops what is held when the connection closes, and releases waiters', async () => {
    const { written, queue } = setup();
    queue.begin();
    const later = queue.begin();
    queue.send(later, 'never');
    const waiting = later.head();
    queue.clear();
    await waiting;
    queue.end(later);
    expect(written).toEqual([]);
  });
});
