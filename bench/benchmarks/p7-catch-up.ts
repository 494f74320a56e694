/**
 * P7: catch-up. A session gets 10,000 durable events (simulator emit of `file.changed`). (a) a
 * 1,000-event `get_events` page: client round-trip (an upper bound of server time) minus nothing;
 * a 1-event page round-trip is shown beside it. (b) while live durable events keep arriving (200
 * every 20 ms), a second client joins with `afterSeq: 0` (10,000+ behind) and is timed until it holds
 * every durable event up to the head at join time; afterwards its seq list is compared with the
 * server's `get_events` history: no gap, no duplicate at the seam.
 */
import { DiminuendoClient } from '@app/client';
import {
  emitDurable,
  percentile,
  preciseNow,
  simInstanceIds,
  sleep,
  startGw,
  startSim,
  summary,
  until,
  type BenchContext,
  type BenchResult,
} from '../lib/common';

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const behind = 10_000;
  const pages = ctx.quick ? 20 : 60;
  const reps = ctx.quick ? 1 : 3;
  const sim = await startSim();
  const gw = await startGw(sim);
  const page1000: number[] = [];
  const page1: number[] = [];
  /** The server's work for a 1,000-event page, in-process on the same database: read + splice. */
  const pageServer: number[] = [];
  const catchUp: number[] = [];
  const behindAtJoin: number[] = [];
  let gaps = 0;
  let dups = 0;
  const a = await DiminuendoClient.connect(gw.url);
  a.maxLog = 0;
  try {
    for (let r = 0; r < reps; r++) {
      const before = new Set(await simInstanceIds(sim));
      const created = await a.request<any>({ type: 'create_session', agentType: 'echo' });
      const sessionId: string = created.session.id;
      await a.request({ type: 'join_session', sessionId });
      let instance = '';
      await until(
        async () => {
          instance = (await simInstanceIds(sim)).find((i) => !before.has(i)) ?? '';
          return instance !== '';
        },
        10_000,
        'instance',
      );
      let head = 0;
      const offA = a.on('*', (e: any) => {
        if (e.sessionId === sessionId && typeof e.seq === 'number') head = Math.max(head, e.seq);
      });
      await sleep(100);
      // exactly `behind` durable events in the session (activation already published a few)
      await emitDurable(sim, [instance], behind - head - 10, 2000);
      await until(
        async () => {
          const p = await a.request<any>({ type: 'get_events', sessionId, afterSeq: 0, limit: 1 });
          return p.hasMore && head >= behind - 10;
        },
        30_000,
        'events persisted',
      );
      await sleep(200);
      for (let i = 0; i < pages; i++) {
        let t0 = preciseNow();
        const p = await a.request<any>({
          type: 'get_events',
          sessionId,
          afterSeq: (i * 97) % (behind - 1000),
          limit: 1000,
        });
        page1000.push(preciseNow() - t0);
        if (p.events.length !== 1000) throw new Error(`page of ${p.events.length}`);
        t0 = preciseNow();
        await a.request<any>({ type: 'get_events', sessionId, afterSeq: 0, limit: 1 });
        page1.push(preciseNow() - t0);
      }
      {
        require('reflect-metadata');
        const { SessionStore } = require('@app/persistence') as typeof import('@app/persistence');
        const store = new SessionStore({
          dataDir: gw.dataDir,
          writeBatchMs: 50,
          writeBatchSize: 100,
          registryCache: 2,
          sessionCache: 2,
        });
        for (let i = 0; i < pages; i++) {
          const t0 = preciseNow();
          const page = await store.events(sessionId as never, (i * 97) % (behind - 1000), 1000);
          const frame = `{"type":"events","sessionId":"${sessionId}","events":[${page.events.map((e) => e.payload).join(',')}],"hasMore":${page.hasMore}}`;
          pageServer.push(preciseNow() - t0);
          if (page.events.length !== 1000 || frame.length < 1000) throw new Error('short page');
        }
        await store.shutdown();
      }
      // (b) live events start flowing as B joins, 10,000 behind
      let live = true;
      const headAtJoin = head;
      const b = await DiminuendoClient.connect(gw.url);
      b.maxLog = 0;
      const seqs: number[] = [];
      b.on('*', (e: any) => {
        if (e.sessionId === sessionId && typeof e.seq === 'number' && e.type !== 'state_snapshot')
          seqs.push(e.seq);
      });
      const t0 = preciseNow();
      const joined = b.request({ type: 'join_session', sessionId, afterSeq: 0 });
      const liveLoop = (async () => {
        let k = 0;
        while (live && k < 200) {
          await emitDurable(sim, [instance], 200, 200);
          k++;
          await sleep(20);
        }
      })();
      await joined;
      await until(() => seqs.length > 0 && seqs[seqs.length - 1] >= headAtJoin, 30_000, 'catch-up', 1);
      catchUp.push(preciseNow() - t0);
      behindAtJoin.push(headAtJoin);
      await sleep(300);
      live = false;
      await liveLoop;
      await sleep(500);
      // server truth: every durable seq
      const truth: number[] = [];
      let after = 0;
      for (;;) {
        const p = await a.request<any>({ type: 'get_events', sessionId, afterSeq: after, limit: 1000 });
        truth.push(...p.events.map((e: any) => e.seq));
        if (!p.hasMore) break;
        after = p.lastSeq;
      }
      const got = new Map<number, number>();
      for (const s of seqs) got.set(s, (got.get(s) ?? 0) + 1);
      const lastB = seqs[seqs.length - 1];
      const missing = truth.filter((s) => s <= lastB && !got.has(s));
      gaps += missing.length;
      if (missing.length)
        ctx.log(
          `P7: missing seqs ${missing.slice(0, 10).join(',')} (truth has ${truth.length}, head at join ${headAtJoin}, B's first ${seqs.slice(0, 3).join(',')})`,
        );
      for (const n of got.values()) if (n > 1) dups += n - 1;
      ctx.log(
        `P7 rep ${r + 1}: caught up ${headAtJoin} events in ${catchUp.at(-1)!.toFixed(1)} ms; received ${seqs.length}, gaps ${gaps}, duplicates ${dups}`,
      );
      offA();
      await b.close();
    }
  } finally {
    await a.close();
    await gw.stop();
    await sim.stop();
  }
  pageServer.sort((x, y) => x - y);
  page1000.sort((x, y) => x - y);
  page1.sort((x, y) => x - y);
  const c = summary(catchUp);
  return {
    id: 'P7',
    name: 'catch-up',
    params: { behind, pages, reps, liveRate: '200 durable events / 20 ms during the join' },
    rows: [
      {
        id: 'P7',
        metric: '1,000-event get_events page, server work p50 (in-process read + splice, same database)',
        unit: 'ms',
        gateway: summary([percentile(pageServer, 50, true)]),
        target: '≤ 5 ms server time',
        met: percentile(pageServer, 50, true) <= 5,
      },
      {
        id: 'P7',
        metric: '1,000-event get_events page, round-trip p50 (≥ server time)',
        unit: 'ms',
        gateway: summary([percentile(page1000, 50, true)]),
        baseline: { name: '1-event page', ...summary([percentile(page1, 50, true)]) },
        target: '—',
        met: null,
      },
      {
        id: 'P7',
        metric: '1,000-event get_events page, round-trip p99',
        unit: 'ms',
        gateway: summary([percentile(page1000, 99, true)]),
        baseline: { name: '1-event page', ...summary([percentile(page1, 99, true)]) },
        target: '—',
        met: null,
      },
      {
        id: 'P7',
        metric: 'client 10,000 behind caught up (join afterSeq 0, live events flowing)',
        unit: 'ms',
        gateway: c,
        target: '≤ 1 s, no gap/duplicate',
        met: c.median <= 1000 && gaps === 0 && dups === 0,
        notes: `behind at join ${behindAtJoin.join('/')} (join replays every page); gaps ${gaps}, duplicates ${dups}`,
      },
    ],
  };
}
