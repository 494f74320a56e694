import type { Diminuendo } from './client';
import recorded from './fixtures/coding-turn.json';
import { SessionHandle } from './session';
import type { ClientMessage, SessionEvent, StateSnapshotEvent } from './wire';

/**
 * The handle's delivery rules on a recorded event sequence. The gateway never produces a gap on
 * purpose, so the connection is played by a stand-in that answers `join_session` and `get_events` from
 * the recording — the same frames the gateway sent.
 */
const events = recorded.events as SessionEvent[];
const sessionId = events[0].sessionId;

function setup() {
  const sent: ClientMessage[] = [];
  const answers: Array<() => void> = [];
  const client = {
    request: (message: ClientMessage) => {
      sent.push(message);
      if (message.type === 'get_events') {
        const after = message.afterSeq ?? 0;
        const page = events.filter((e) => e.seq > after);
        return new Promise((resolve) =>
          answers.push(() =>
            resolve({
              type: 'events',
              sessionId,
              events: page,
              lastSeq: page.at(-1)?.seq ?? after,
              hasMore: false,
            }),
          ),
        );
      }
      return new Promise(() => undefined); // answered through onSnapshot, as the client routes it
    },
  } as unknown as Diminuendo;
  const handle = new SessionHandle(sessionId, client);
  const seen: number[] = [];
  handle.on('*', (e) => seen.push(e.seq));
  const snapshot = (lastSeq: number): StateSnapshotEvent => ({
    ...(recorded.snapshot as StateSnapshotEvent),
    lastSeq,
  });
  return { handle, sent, seen, snapshot, answer: () => answers.shift()?.() };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('SessionHandle delivery', () => {
  it('drops duplicates and re-joins after the last delivered seq', () => {
    const { handle, sent, seen, snapshot } = setup();
    void handle.join();
    handle.onSnapshot(snapshot(0));
    for (const e of events.slice(0, 10)) handle.receive(e);
    handle.onDisconnected();
    handle.resync();
    expect(sent.at(-1)).toEqual({ type: 'join_session', sessionId, afterSeq: events[9].seq });
    handle.onSnapshot(snapshot(events[9].seq));
    for (const e of events.slice(5, 20)) handle.receive(e); // a replay overlapping what was delivered
    expect(seen).toEqual(events.slice(0, 20).map((e) => e.seq));
  });

  it('fills a gap with get_events before delivering anything after it', async () => {
    const { handle, sent, seen, snapshot, answer } = setup();
    void handle.join();
    handle.onSnapshot(snapshot(0));
    for (const e of events.slice(0, 5)) handle.receive(e);
    handle.onDisconnected();
    handle.resync();
    // The snapshot says events up to #30 exist, but the replay stops at #12 and live frames resume at #31.
    handle.onSnapshot(snapshot(events[30].seq));
    for (const e of events.slice(5, 13)) handle.receive(e);
    handle.receive(events[31]);
    handle.receive(events[32]);
    expect(seen.at(-1)).toBe(events[12].seq); // #31 is held back
    expect(sent.at(-1)).toMatchObject({ type: 'get_events', afterSeq: events[12].seq });
    answer();
    await flush();
    expect(seen).toEqual(events.map((e) => e.seq)); // the stored range first, then the held frames once
  });

  it('holds events that arrive before the join’s snapshot until the replay reaches them', () => {
    const { handle, seen, snapshot } = setup();
    void handle.join();
    // The direct answer to run_turn (turn_started) overtakes the snapshot and the replay.
    const started = events.find((e) => e.type === 'turn_started')!;
    handle.receive({ ...started, requestId: 'r1' } as SessionEvent & { requestId: string });
    handle.onSnapshot(snapshot(started.seq));
    for (const e of events.filter((e) => e.seq <= started.seq + 1)) handle.receive(e);
    expect(seen).toEqual(events.filter((e) => e.seq <= started.seq + 1).map((e) => e.seq));
  });
});
