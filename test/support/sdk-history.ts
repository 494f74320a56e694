import { DiminuendoClient } from '@app/client';
import type { SessionEvent, SessionHandle } from '@app/client/sdk/node';
import { DURABLE_EVENT_TYPES } from '@app/protocol';

/** Helpers of the SDK suites: what the application saw, what the gateway stored, and their comparison. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every stored event of a session, read by an independent client straight from the gateway. */
export async function stored(url: string, sessionId: string): Promise<SessionEvent[]> {
  const reader = await DiminuendoClient.connect(url);
  try {
    const all: SessionEvent[] = [];
    let afterSeq = 0;
    for (;;) {
      const page = await reader.request<any>({ type: 'get_events', sessionId, afterSeq, limit: 1000 });
      all.push(...page.events);
      if (!page.hasMore) return all;
      afterSeq = page.lastSeq;
    }
  } finally {
    await reader.close();
  }
}

/** What the application saw: every event the handle delivered, and the durable ones among them. */
export function record(handle: SessionHandle): { all: SessionEvent[]; durable: () => SessionEvent[] } {
  const all: SessionEvent[] = [];
  handle.on('*', (e) => all.push(e));
  return { all, durable: () => all.filter((e) => DURABLE_EVENT_TYPES.has(e.type)) };
}

/** Waits until the application has seen as many durable events as are stored, then compares them. */
export async function expectExactlyOnce(
  url: string,
  sessionId: string,
  durable: () => SessionEvent[],
): Promise<void> {
  let history = await stored(url, sessionId);
  const until = Date.now() + 10_000;
  while (durable().length < history.length && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 50));
    history = await stored(url, sessionId);
  }
  expectExactlyOnceInOrder(durable(), history);
}

export function expectExactlyOnceInOrder(seen: SessionEvent[], history: SessionEvent[]): void {
  const seqs = seen.map((e) => e.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
  expect(seen).toEqual(history);
}
