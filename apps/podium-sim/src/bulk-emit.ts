/**
 * Bulk emission for load tests (`POST /_sim/instances/{id}/emit-bulk`): the simulator generates
 * `count` frames from a template and writes them to the instance's event socket(s) itself, as fast as
 * the sockets drain or paced at `pace` frames/s, so that a load generator needs one HTTP call per
 * instance instead of one per event. It answers when every frame is written, with the send times.
 */
import { performance } from 'node:perf_hooks';
import { HttpError, isRecord } from './http-util';
import type { SimInstance } from './instance';

export const MAX_BULK_FRAMES = 5_000_000;
/** Unpaced emission yields to the event loop after this many frames (other instances, HTTP). */
const YIELD_EVERY = 256;

export interface BulkRequest {
  count: number;
  frame: { messageType: string; content: Record<string, unknown> };
  /** Frames per second; absent or 0 for as fast as the socket drains. */
  pace: number;
  /** A field of `content` set to the frame's index (0-based), e.g. `iteration`. */
  indexField?: string;
}

export interface BulkResult {
  sent: number;
  /** Epoch milliseconds (sub-millisecond resolution) of the first and last write. */
  startedAt: number;
  endedAt: number;
  /**
   * `[epoch ms, frames sent so far]` after each group of writes: frame k (1-based) was written at the
   * time of the first tick whose count is ≥ k.
   */
  ticks: [number, number][];
}

/** Validates the body of an emit-bulk request (400 on anything else). */
export function parseBulkRequest(body: unknown): BulkRequest {
  if (!isRecord(body)) throw new HttpError(400, 'body must be an object');
  const { count, frame, pace = 0, indexField } = body;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_BULK_FRAMES)
    throw new HttpError(400, `count must be an integer 1-${MAX_BULK_FRAMES}`);
  if (!isRecord(frame) || typeof frame.messageType !== 'string' || !isRecord(frame.content))
    throw new HttpError(400, 'frame must be {messageType, content}');
  if (typeof pace !== 'number' || !Number.isFinite(pace) || pace < 0)
    throw new HttpError(400, 'pace must be a number of frames per second ≥ 0');
  if (indexField !== undefined && typeof indexField !== 'string')
    throw new HttpError(400, 'indexField must be a string');
  return {
    count,
    frame: { messageType: frame.messageType, content: frame.content },
    pace,
    indexField,
  };
}

function now(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes the frames; stops early (with what was sent) if the last event socket goes away. */
export async function emitBulk(instance: SimInstance, req: BulkRequest): Promise<BulkResult> {
  const serialise = (i: number): string =>
    JSON.stringify(
      req.indexField === undefined
        ? req.frame
        : { messageType: req.frame.messageType, content: { ...req.frame.content, [req.indexField]: i } },
    );
  const ticks: [number, number][] = [];
  const startedAt = now();
  const start = performance.now();
  let sent = 0;
  while (sent < req.count && instance.hasListener()) {
    // paced: everything due by now; unpaced: the next group
    const due =
      req.pace > 0
        ? Math.min(req.count, Math.floor(((performance.now() - start) * req.pace) / 1000) + 1)
        : Math.min(req.count, sent + YIELD_EVERY);
    const before = sent;
    while (sent < due) {
      const { sent: sockets, drain } = instance.deliver(serialise(sent));
      if (sockets === 0) break;
      sent++;
      if (drain) await drain;
    }
    if (sent > before) ticks.push([now(), sent]);
    if (sent >= req.count) break;
    if (req.pace > 0) {
      const nextDueAt = start + (sent * 1000) / req.pace; // frame `sent` is the next one (0-based)
      await sleep(Math.max(0, nextDueAt - performance.now()));
    } else {
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return { sent, startedAt, endedAt: ticks.at(-1)?.[0] ?? startedAt, ticks };
}
