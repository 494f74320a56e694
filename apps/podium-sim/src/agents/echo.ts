/**
 * `echo`: streams the prompt back.
 * - `bench:N` streams N 16-char frames without delay (socket-drain paced).
 * - `pace:N:R:B` streams N frames at R frames/s in bursts of B (benchmarks of added latency); each
 *   text is `@<send time, epoch ms with µs>#<i> `, stamped just before the frame is sent.
 */
import { performance } from 'node:perf_hooks';
import { benchChunk } from '../turn';
import { chunkText } from './text';
import type { Agent } from './types';

const MAX_BENCH_FRAMES = 5_000_000;

/** Wall-clock milliseconds with sub-millisecond resolution (comparable across local processes). */
export function preciseNow(): number {
  return performance.timeOrigin + performance.now();
}

export const echoAgent: Agent = {
  type: 'echo',
  model: 'sim-echo-1',
  async run(turn) {
    const bench = /^bench:(\d+)/.exec(turn.prompt);
    if (bench) {
      const frames = Math.min(Number(bench[1]), MAX_BENCH_FRAMES);
      for (let i = 0; i < frames; i++) await turn.streamText(benchChunk(i), true);
      return;
    }
    const pace = /^pace:(\d+):(\d+):(\d+)/.exec(turn.prompt);
    if (pace) {
      const frames = Math.min(Number(pace[1]), MAX_BENCH_FRAMES);
      const rate = Math.max(1, Number(pace[2]));
      const burst = Math.max(1, Number(pace[3]));
      const intervalMs = (1000 * burst) / rate;
      const start = performance.now();
      for (let i = 0, k = 0; i < frames; k++) {
        const wait = start + k * intervalMs - performance.now();
        if (wait > 0) await turn.sleep(wait);
        for (let j = 0; j < burst && i < frames; j++, i++) {
          await turn.streamText(`@${preciseNow().toFixed(3)}#${i} `, true);
        }
      }
      return;
    }
    for (const chunk of chunkText(turn.prompt)) await turn.streamText(chunk);
  },
};
