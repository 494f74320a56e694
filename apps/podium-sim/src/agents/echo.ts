/** `echo`: streams the prompt back. A prompt starting with `bench:N` streams N 16-char frames without delay. */
import { benchChunk } from '../turn';
import { chunkText } from './text';
import type { Agent } from './types';

const MAX_BENCH_FRAMES = 5_000_000;

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
    for (const chunk of chunkText(turn.prompt)) await turn.streamText(chunk);
  },
};
