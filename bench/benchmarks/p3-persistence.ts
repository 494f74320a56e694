/**
 * P3: persisted durable events/s over 100 sessions, and event→commit latency.
 *
 * Method: one typed client creates and joins 100 echo sessions (each gets its Podium event socket);
 * the simulator's `/_sim/instances/{id}/emit` pushes K durable `file.changed` frames to every instance
 * (16 HTTP requests in flight). The gateway maps, sequences, broadcasts and enqueues them to its
 * batched writer; the bench polls `GET /health` (`writer.rows`) every 10 ms until all are committed.
 * Throughput = events / (first emit → last commit observed). Event→commit latency pairs the k-th
 * durable event the client received with the first poll at which `writer.rows` ≥ k (an upper bound,
 * within one poll interval).
 * Baseline: the same number of rows through `sqlite3` in one transaction, 100 rows per INSERT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sqlite3 from 'sqlite3';
import { DiminuendoClient } from '@app/client';
import {
  emitDurable,
  getJson,
  percentile,
  pool,
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

const PAYLOAD = JSON.stringify({
  type: 'file_changed',
  sessionId: 'x'.repeat(36),
  path: 'src/f1.ts',
  changeType: 'modified',
  iteration: 1,
  seq: 1,
  ts: Date.now(),
});

async function rawSqlite(rows: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
  const db = new sqlite3.Database(join(dir, 'raw.db'));
  const run = (sql: string, params: unknown[] = []) =>
    new Promise<void>((res, rej) => db.run(sql, params, (err) => (err ? rej(err) : res())));
  await run('PRAGMA journal_mode=WAL');
  await run('PRAGMA synchronous=NORMAL');
  await run(
    'CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, turn_id TEXT, payload TEXT NOT NULL, ts INTEGER NOT NULL)',
  );
  const per = 100;
  const sql =
    'INSERT INTO events (seq, type, turn_id, payload, ts) VALUES ' +
    Array.from({ length: per }, () => '(?,?,?,?,?)').join(',');
  const t0 = preciseNow();
  await run('BEGIN');
  for (let i = 0; i < rows; i += per) {
    const params: unknown[] = [];
    for (let j = 0; j < per; j++) params.push(i + j + 1, 'file_changed', null, PAYLOAD, Date.now());
    await run(sql, params);
  }
  await run('COMMIT');
  const rate = rows / ((preciseNow() - t0) / 1000);
  await new Promise((r) => db.close(r));
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

/**
 * The gateway's own BatchedWriter (SessionStore, TypeORM over sqlite3) in-process: a burst of
 * `perSession` durable events for each of `sessions` sessions, enqueued as the publisher does, then
 * flushed. Isolates the writer from the pipeline and the load generator sharing the cores.
 */
async function writerAlone(sessions: number, perSession: number): Promise<number> {
  require('reflect-metadata');
  const { SessionStore } = require('@app/persistence') as typeof import('@app/persistence');
  const dir = mkdtempSync(join(tmpdir(), 'bench-writer-'));
  const store = new SessionStore({
    dataDir: dir,
    writeBatchMs: 50,
    writeBatchSize: 100,
    registryCache: 8,
    sessionCache: sessions + 8,
  });
  const ids = Array.from({ length: sessions }, (_, i) => `bench-s${i}`);
  await Promise.all(ids.map((id) => store.maxSeq(id as never))); // open every database first
  const t0 = preciseNow();
  for (let k = 1; k <= perSession; k++) {
    for (const id of ids)
      store.enqueue({
        table: 'events',
        sessionId: id as never,
        row: { seq: k, type: 'file_changed', turnId: null, payload: PAYLOAD, ts: Date.now() },
      });
  }
  await store.writer.flush();
  const rate = (sessions * perSession) / ((preciseNow() - t0) / 1000);
  await store.shutdown();
  rmSync(dir, { recursive: true, force: true });
  return rate;
}

function writerRows(health: any): number {
  return Number(health?.writer?.rows ?? health?.info?.writer?.rows ?? NaN);
}

export async function run(ctx: BenchContext): Promise<BenchResult> {
  const sessions = 100;
  const perSession = ctx.quick ? 200 : 1000;
  const reps = ctx.quick ? 1 : 3;
  const total = sessions * perSession;
  const sim = await startSim();
  const gw = await startGw(sim);
  const client = await DiminuendoClient.connect(gw.url);
  client.maxLog = 0;
  const rates: number[] = [];
  const baseRates: number[] = [];
  const writerRates: number[] = [];
  const p50s: number[] = [];
  const p99s: number[] = [];
  try {
    const ids = await pool(Array.from({ length: sessions }), 10, async () => {
      const c = await client.request<any>({ type: 'create_session', agentType: 'echo' });
      await client.request({ type: 'join_session', sessionId: c.session.id });
      return c.session.id as string;
    });
    const joined = new Set(ids);
    await until(async () => (await simInstanceIds(sim)).length >= sessions, 30_000, 'instances');
    const instances = await simInstanceIds(sim);
    let recvTimes: number[] = [];
    client.on('file_changed', (e: any) => {
      if (joined.has(e.sessionId)) recvTimes.push(preciseNow());
    });
    const health = `${gw.url}/health`;
    for (let r = 0; r < reps; r++) {
      await sleep(300);
      const base = writerRows(await getJson(health));
      if (!Number.isFinite(base)) throw new Error('GET /health has no writer.rows figure');
      recvTimes = [];
      const polls: { t: number; rows: number }[] = [];
      const t0 = preciseNow();
      const emitting = emitDurable(sim, instances, perSession, 500);
      let done = false;
      const deadline = Date.now() + 120_000;
      while (!done) {
        const rows = writerRows(await getJson(health)) - base;
        polls.push({ t: preciseNow(), rows });
        if (rows >= total) done = true;
        else if (Date.now() > deadline) throw new Error(`only ${rows}/${total} rows committed`);
        else await sleep(10);
      }
      await emitting;
      const seconds = (polls.at(-1)!.t - t0) / 1000;
      rates.push(total / seconds);
      const lat: number[] = [];
      let pi = 0;
      recvTimes.forEach((t, k) => {
        while (pi < polls.length - 1 && polls[pi].rows < k + 1) pi++;
        lat.push(Math.max(0, polls[pi].t - t));
      });
      lat.sort((a, b) => a - b);
      p50s.push(percentile(lat, 50, true));
      p99s.push(percentile(lat, 99, true));
      baseRates.push(await rawSqlite(total));
      writerRates.push(await writerAlone(sessions, perSession));
      ctx.log(
        `P3 rep ${r + 1}: gateway ${Math.round(rates.at(-1)!)} events/s (${recvTimes.length} received), commit p50 ${p50s.at(-1)!.toFixed(1)} ms p99 ${p99s.at(-1)!.toFixed(1)} ms; raw sqlite ${Math.round(baseRates.at(-1)!)} rows/s`,
      );
    }
  } finally {
    await client.close();
    await gw.stop();
    await sim.stop();
  }
  const ratio = summary(rates.map((g, i) => g / baseRates[i]));
  const w = summary(writerRates);
  const g = summary(rates);
  return {
    id: 'P3',
    name: 'persistence',
    params: {
      sessions,
      eventsPerSession: perSession,
      total,
      reps,
      method: 'sim emit → gateway → batched writer; /health writer.rows polled every 10 ms',
    },
    rows: [
      {
        id: 'P3',
        metric: 'durable events persisted/s (100 sessions)',
        unit: 'events/s',
        gateway: g,
        baseline: { name: 'raw sqlite3 multi-row INSERT', ...summary(baseRates) },
        ratio,
        ratioKind: 'ratio',
        target: '≥ 100,000 events/s',
        met: g.median >= 100_000,
      },
      {
        id: 'P3',
        metric: 'batched writer alone, in-process (100 sessions)',
        unit: 'events/s',
        gateway: w,
        baseline: { name: 'raw sqlite3 multi-row INSERT', ...summary(baseRates) },
        ratio: summary(writerRates.map((x, i) => x / baseRates[i])),
        ratioKind: 'ratio',
        target: '≥ 100,000 events/s',
        met: w.median >= 100_000,
      },
      {
        id: 'P3',
        metric: 'event→commit latency p50',
        unit: 'ms',
        gateway: summary(p50s),
        target: '—',
        met: null,
      },
      {
        id: 'P3',
        metric: 'event→commit latency p99',
        unit: 'ms',
        gateway: summary(p99s),
        target: '≤ 100 ms',
        met: summary(p99s).median <= 100,
      },
    ],
  };
}
