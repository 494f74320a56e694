import { Logger } from '@nestjs/common';
import { BusSigner, encode, unpackDeliveries, type OutHeader } from './cluster-protocol';
import { eventually, SPEC_CLUSTER_SECRET, SpecCluster, type SpecInstance } from './cluster.spec-helper';

/** Resolves once `ok()` holds (polled), or fails the spec after 10 s. */
const until = (ok: () => boolean) =>
  eventually(
    async () => ok(),
    (v) => v,
  );

/**
 * How the bus takes in a burst on real Redis: an owner streaming a turn to many clients of another
 * instance can put seconds of socket writes into that instance's inbox at once. Handled in one go they
 * would hold its event loop (and its lease renewal) until the other instances take it for gone.
 */
describe('ClusterBus inbound bursts (real Redis)', () => {
  let cluster: SpecCluster;
  let a: SpecInstance;
  let b: SpecInstance;

  beforeAll(() => Logger.overrideLogger(false));

  beforeEach(async () => {
    cluster = new SpecCluster();
    a = await cluster.instance('a');
    b = await cluster.instance('b');
  });

  afterEach(() => cluster.close());

  /** What ioredis does with a large read: one `message` event per message, all in the same task. */
  function burst(count: number, sender = 'owner-x'): void {
    const channel = b.bus.inbox(b.bus.member);
    const signer = new BusSigner(SPEC_CLUSTER_SECRET);
    const subscriber = (b.bus as unknown as { subscriber: NodeJS.EventEmitter }).subscriber;
    for (let i = 1; i <= count; i++) {
      const header: OutHeader = {
        k: 'out',
        from: sender,
        lists: [['c1']],
        ops: [['f', 0, 0, String(i).length]],
      };
      subscriber.emit('message', channel, signer.seal(channel, i, encode(header, String(i))));
    }
  }

  /** Frames handed to B's `out` handler, in order; each costs `spinMs` of synchronous work. */
  function recordOut(spinMs = 0): string[] {
    const frames: string[] = [];
    b.bus.on('out', (header, body) => {
      const end = performance.now() + spinMs;
      while (performance.now() < end);
      for (const op of unpackDeliveries(header, body)) if (op.kind === 'frame') frames.push(op.frame);
    });
    return frames;
  }

  it('handles a burst in order, in slices: timers run before the last message is handled', async () => {
    const frames = recordOut(1);
    const handledWhenTimerRan = new Promise<number>((resolve) => {
      burst(300);
      setTimeout(() => resolve(frames.length), 0);
    });
    const seen = await handledWhenTimerRan;
    expect(seen).toBeLessThan(300);
    await until(() => frames.length === 300);
    expect(frames).toEqual(Array.from({ length: 300 }, (_, i) => String(i + 1)));
  });

  it('stops reading its inbox while thousands of messages wait, and reads again once they are handled', async () => {
    const frames = recordOut();
    const stream = (b.bus as unknown as { subscriber: { stream: NodeJS.ReadableStream } }).subscriber.stream;
    burst(5000);
    expect(b.bus.inboundBacklog).toBe(5000);
    expect(stream.isPaused()).toBe(true);
    await until(() => frames.length === 5000);
    expect(b.bus.inboundBacklog).toBe(0);
    expect(stream.isPaused()).toBe(false);
    // The socket still works: a message published through Redis arrives.
    a.bus.deliver(b.bus.member, { kind: 'frame', conn: 'c1', frame: 'after', ephemeral: false });
    await until(() => frames.at(-1) === 'after');
  });

  it('splits one turn of deliveries for an instance into messages of bounded size, in order', async () => {
    const messages: number[] = [];
    const frames: string[] = [];
    b.bus.on('out', (header, body) => {
      let n = 0;
      for (const op of unpackDeliveries(header, body)) {
        if (op.kind !== 'frame') continue;
        n += op.ids.length;
        for (let k = 0; k < op.ids.length; k++) frames.push(op.frame);
      }
      messages.push(n);
    });
    for (let i = 0; i < 10_000; i++) {
      a.bus.deliver(b.bus.member, {
        kind: 'frame',
        conn: `c${i % 100}`,
        frame: `f${i >> 4}`,
        ephemeral: false,
      });
    }
    await until(() => frames.length === 10_000);
    expect(messages.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...messages)).toBeLessThanOrEqual(4096);
    expect(frames).toEqual(Array.from({ length: 10_000 }, (_, i) => `f${i >> 4}`));
  });
});
