/**
 * Runs the benchmarks: `npm run bench` (all), `npm run bench -- P1 P5` (some), `--quick` (smoke run),
 * `--hold=SECONDS` (P4 hold time), `--p4-conns=N` (P4 connection count). Prints a table and writes bench/results/<timestamp>.json.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fmt, type BenchContext, type BenchResult, type Row } from './lib/common';

const BENCHMARKS: Record<string, string> = {
  P1: './benchmarks/p1-fanout',
  P1S: './benchmarks/p1-sweeps',
  P2: './benchmarks/p2-latency',
  P3: './benchmarks/p3-persistence',
  P4: './benchmarks/p4-idle-connections',
  P5: './benchmarks/p5-health',
  P6: './benchmarks/p6-connect',
  P7: './benchmarks/p7-catch-up',
  P8: './benchmarks/p8-slow-consumer',
  P9: './benchmarks/p9-startup',
  P10: './benchmarks/p10-redis-fanout',
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const hold = args.find((a) => a.startsWith('--hold='));
  const p4Conns = args.find((a) => a.startsWith('--p4-conns='));
  const names = args.filter((a) => !a.startsWith('--')).map((a) => a.toUpperCase());
  const unknown = names.filter((n) => !BENCHMARKS[n]);
  if (unknown.length)
    throw new Error(
      `unknown benchmark(s) ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(' ')}`,
    );
  const selected = names.length ? names : Object.keys(BENCHMARKS);
  const started = Date.now();
  const ctx: BenchContext = {
    quick,
    holdSeconds: hold ? Number(hold.slice('--hold='.length)) : quick ? 10 : 300,
    p4Conns: p4Conns ? Number(p4Conns.slice('--p4-conns='.length)) : undefined,
    log: (line) => console.error(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`),
  };
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
  ctx.log(`machine: ${JSON.stringify(machine)}; mode: ${quick ? 'quick' : 'full'}`);
  const results: BenchResult[] = [];
  const failures: { id: string; error: string }[] = [];
  for (const id of selected) {
    ctx.log(`${id} …`);
    const t0 = Date.now();
    try {
      const mod = require(BENCHMARKS[id]) as { run(ctx: BenchContext): Promise<BenchResult> };
      const result = await mod.run(ctx);
      results.push({ ...result, extra: { ...result.extra, seconds: (Date.now() - t0) / 1000 } });
      ctx.log(`${id} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      const error = (err as Error).stack ?? String(err);
      ctx.log(`${id} FAILED: ${error}`);
      failures.push({ id, error });
    }
  }
  const rows = results.flatMap((r) => r.rows);
  console.log(table(rows, machine, quick));
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  const file = join(
    __dirname,
    'results',
    `${new Date().toISOString().replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`,
  );
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        mode: quick ? 'quick' : 'full',
        machine,
        totalSeconds: (Date.now() - started) / 1000,
        results,
        failures,
      },
      null,
      2,
    ),
  );
  console.log(`\nresults: ${file} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  if (results.some((r) => r.id === 'P1S')) {
    // a full run redraws the charts of docs/images; a quick run only says how
    const chart = join(__dirname, 'chart.js');
    if (quick) console.log(`charts: node bench/chart.js ${file}`);
    else process.stdout.write(execFileSync(process.execPath, [chart, file]));
  }
  if (failures.length) process.exitCode = 1;
}

function cell(s: { median: number; min: number; max: number } | undefined, unit: string): string {
  if (!s) return '—';
  const u = unit === 'ratio' ? '' : ` ${unit}`;
  if (s.min === s.max) return `${fmt(s.median)}${u}`;
  return `${fmt(s.median)}${u} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** A Markdown table (also readable on a terminal): median (min–max) over repetitions. */
export function table(rows: Row[], machine: Record<string, unknown>, quick: boolean): string {
  const head =
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}${quick ? ' — QUICK MODE' : ''}\n\n` +
    '| id | metric | gateway | baseline (same run) | ratio / Δ | target | met |\n|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    const base = r.baseline ? `${r.baseline.name}: ${cell(r.baseline, r.unit)}` : '—';
    const ratio = r.ratio
      ? r.ratioKind === 'difference'
        ? `Δ ${cell(r.ratio, r.unit)}`
        : `${cell(r.ratio, 'ratio')}×`
      : '—';
    const met = r.met === null ? 'n/a' : r.met ? 'yes' : '**no**';
    const notes = r.notes ? ` — ${r.notes}` : '';
    return `| ${r.id} | ${r.metric}${notes} | ${cell(r.gateway, r.unit)} | ${base} | ${ratio} | ${r.target} | ${met} |`;
  });
  return [head, ...lines].join('\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
