/**
 * TEST-ONLY control API under `/_sim/` (no auth). A real Podium has nothing like it; the gateway must
 * never call it. Tests and benchmarks use it to read counters, set fault knobs and inject frames.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { emitBulk, parseBulkRequest } from './bulk-emit';
import { checkSegment, HttpError, isRecord, readJson, sendJson } from './http-util';
import { applyKnobPatch } from './knobs';
import { resetState, type SimState } from './state';

export async function handleControl(
  state: SimState,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
): Promise<void> {
  const route = `${req.method ?? 'GET'} ${segments.slice(1).join('/')}`;
  switch (route) {
    case 'GET stats':
      return sendJson(res, 200, stats(state));
    case 'GET config':
      return sendJson(res, 200, state.knobs);
    case 'POST config': {
      const error = applyKnobPatch(state.knobs, await readJson(req));
      if (error) throw new HttpError(400, error);
      state.log(`knobs set: ${JSON.stringify(state.knobs)}`);
      return sendJson(res, 200, state.knobs);
    }
    case 'POST reset': {
      const body = await readJson(req);
      if (isRecord(body) && body.instances === true) {
        for (const instance of state.instances.values()) instance.shutdown();
        state.instances.clear();
      }
      resetState(state);
      state.log(`knobs and counters reset${state.instances.size === 0 ? ' (no live instances)' : ''}`);
      return sendJson(res, 200, { knobs: state.knobs, stats: stats(state) });
    }
    case 'GET instances':
      return sendJson(
        res,
        200,
        [...state.instances.values()].map((i) => i.describe()),
      );
  }
  const [, instances, id, action] = segments;
  if (req.method === 'POST' && instances === 'instances' && action === 'emit' && segments.length === 4) {
    return emit(state, req, res, id);
  }
  if (req.method === 'POST' && instances === 'instances' && action === 'emit-bulk' && segments.length === 4) {
    return bulk(state, req, res, id);
  }
  if (req.method === 'POST' && instances === 'instances' && action === 'files' && segments.length === 4) {
    return writeFile(state, req, res, id);
  }
  throw new HttpError(404, 'no such /_sim route');
}

function stats(state: SimState): Record<string, unknown> {
  const live = [...state.instances.values()];
  return {
    ...state.counters,
    messagesReceived: { ...state.counters.messagesReceived },
    liveInstances: live.length,
    connections: live.reduce((n, i) => n + i.connectionCount, 0),
  };
}

/** Maximum size of a file written through `/_sim/instances/{id}/files` with `bytes`. */
const MAX_WRITE_BYTES = 256 * 1024 * 1024;

/**
 * Writes a file into an instance's workspace (a new iteration): `{path, content}` as given, or
 * `{path, bytes}` for that many bytes of filler text (large-file tests).
 */
async function writeFile(
  state: SimState,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
): Promise<void> {
  const instance = state.instances.get(id);
  if (!instance) throw new HttpError(404, `instance ${id} not found`);
  const body = await readJson(req);
  if (!isRecord(body) || typeof body.path !== 'string' || body.path.trim() === '')
    throw new HttpError(400, 'path is required');
  const { path, content, bytes } = body;
  let text: string;
  if (typeof content === 'string') text = content;
  else if (typeof bytes === 'number' && Number.isInteger(bytes) && bytes >= 0 && bytes <= MAX_WRITE_BYTES)
    text = 'x'.repeat(bytes);
  else throw new HttpError(400, `content (string) or bytes (0-${MAX_WRITE_BYTES}) is required`);
  for (const segment of path.split('/').filter((s) => s !== '')) checkSegment(segment);
  const { meta } = instance.workspace.write(path, text);
  state.log(`instance ${id}: ${path} written via /_sim (${meta.size} bytes, iteration ${meta.iteration})`);
  sendJson(res, 200, meta);
}

/**
 * Pushes frames to an instance's event socket(s) exactly as given: a `{messageType, content}` object,
 * an array of them (sent one by one), or `{raw: "text"}` to send arbitrary text (malformed-frame tests).
 */
async function emit(state: SimState, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const instance = state.instances.get(id);
  if (!instance) throw new HttpError(404, `instance ${id} not found`);
  const body = await readJson(req);
  const frames =
    isRecord(body) && typeof body.raw === 'string'
      ? [body.raw]
      : (Array.isArray(body) ? body : [body]).map((f) => JSON.stringify(f));
  if (!instance.hasListener()) throw new HttpError(409, 'no event socket is connected to this instance');
  let delivered = 0;
  for (const frame of frames) delivered += instance.emitRaw(frame);
  state.log(`instance ${id} injected ${frames.length} frame(s) via /_sim`);
  sendJson(res, 200, { frames: frames.length, delivered });
}

/**
 * `{count, frame, pace?, indexField?}`: the simulator writes `count` copies of `frame` (with
 * `content[indexField]` set to the index) itself, as fast as the socket drains or at `pace` frames/s,
 * and answers once they are written, with the send times (bulk-emit.ts).
 */
async function bulk(state: SimState, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const instance = state.instances.get(id);
  if (!instance) throw new HttpError(404, `instance ${id} not found`);
  const request = parseBulkRequest(await readJson(req));
  if (!instance.hasListener()) throw new HttpError(409, 'no event socket is connected to this instance');
  const result = await emitBulk(instance, request);
  const seconds = (result.endedAt - result.startedAt) / 1000;
  state.log(
    `instance ${id} bulk-emitted ${result.sent}/${request.count} frame(s) via /_sim in ${seconds.toFixed(3)} s`,
  );
  sendJson(res, 200, result);
}
