/**
 * TEST-ONLY control API under `/_sim/` (no auth). A real Podium has nothing like it; the gateway must
 * never call it. Tests and benchmarks use it to read counters, set fault knobs and inject frames.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, isRecord, readJson, sendJson } from './http-util';
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
