/**
 * The simulator's bulk emit (`POST /_sim/instances/{id}/emit-bulk`) over many instances at once, and
 * the event→commit pairing P3 and the persist profile use.
 */
import { fileChangedFrame, pool, postJson, type SimProcess } from './common';

export interface BulkEmitted {
  sent: number;
  startedAt: number;
  endedAt: number;
  /** `[epoch ms, frames sent so far]` per group of writes. */
  ticks: [number, number][];
}

/**
 * `count` durable `file.changed` frames to each instance, every instance at once, unpaced or at
 * `perInstancePace` frames/s. Resolves with each instance's send times once all are written.
 */
export function emitBulkDurable(
  sim: SimProcess,
  ids: string[],
  count: number,
  perInstancePace = 0,
): Promise<BulkEmitted[]> {
  const frame = fileChangedFrame(0);
  return pool(
    ids,
    ids.length,
    (id) =>
      postJson(`${sim.url}/_sim/instances/${id}/emit-bulk`, {
        count,
        frame,
        pace: perInstancePace,
        indexField: 'iteration',
      }) as Promise<BulkEmitted>,
  );
}

/** Every frame's send time (epoch ms), over all instances, ascending. */
export function sendTimes(emitted: BulkEmitted[]): Float64Array {
  const total = emitted.reduce((n, e) => n + e.sent, 0);
  const out = new Float64Array(total);
  let k = 0;
  for (const e of emitted) {
    let before = 0;
    for (const [t, sent] of e.ticks) {
      for (; before < sent; before++) out[k++] = t;
    }
  }
  return out.sort();
}

/**
 * Event→commit latency as the horizontal distance between the cumulative "sent" and "committed"
 * curves: the k-th frame sent (over all sessions, in send order) is paired with the first commit
 * observation at which at least k rows were committed. Exact for first-in first-out commits; an upper
 * bound within one observation interval.
 */
export function commitLatencies(sent: Float64Array, commits: { t: number; rows: number }[]): Float64Array {
  const out = new Float64Array(sent.length);
  let ci = 0;
  for (let k = 0; k < sent.length; k++) {
    while (ci < commits.length - 1 && commits[ci].rows < k + 1) ci++;
    out[k] = Math.max(0, commits[ci].t - sent[k]);
  }
  return out.sort();
}
