/** The Podium REST contract: instances and workspace files. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AGENTS, FAILING_AGENT_TYPE } from './agents';
import {
  checkSegment,
  HttpError,
  isRecord,
  readJson,
  sendEmpty,
  sendJson,
  sendJsonChunked,
} from './http-util';
import { SimInstance } from './instance';
import type { SimState } from './state';

const MAX_LIST_DEPTH = 64;

/** Handles `/api/v1/instances...` (segments already decoded and auth already checked). */
export async function handleApi(
  state: SimState,
  req: IncomingMessage,
  res: ServerResponse,
  segments: string[],
  query: URLSearchParams,
): Promise<void> {
  const [api, v1, instances, id, sub, ...rest] = segments;
  if (api !== 'api' || v1 !== 'v1' || instances !== 'instances') throw new HttpError(404, 'no such route');
  const method = req.method ?? 'GET';

  if (id === undefined) {
    if (method !== 'POST') throw new HttpError(405, 'method not allowed');
    return createInstance(state, req, res);
  }
  const instance = state.instances.get(id);
  if (sub === undefined) {
    if (method === 'GET') {
      if (!instance) throw new HttpError(404, `instance ${id} not found`);
      return sendJson(res, 200, instance.info());
    }
    if (method === 'DELETE') {
      if (!instance) throw new HttpError(404, `instance ${id} not found`);
      instance.stop();
      state.instances.delete(id);
      state.counters.instancesStopped++;
      state.log(`instance ${id} stopped`);
      return sendEmpty(res, 204);
    }
    throw new HttpError(405, 'method not allowed');
  }
  if (sub !== 'files') throw new HttpError(404, 'no such route');
  if (method !== 'GET') throw new HttpError(405, 'method not allowed');
  if (!instance) throw new HttpError(404, `instance ${id} not found`);
  if (rest.length === 0) return listFiles(instance, res, query);
  return fileRoute(instance, res, rest, state.knobs.chunkedFiles);
}

async function createInstance(state: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req);
  const { knobs } = state;
  if (knobs.createDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, knobs.createDelayMs));
  if (knobs.failCreate > 0) {
    knobs.failCreate--;
    state.log(`instance creation refused with 503 (failCreate, ${knobs.failCreate} left)`);
    throw new HttpError(503, 'podium is unavailable (simulated by failCreate)');
  }
  if (!isRecord(body)) throw new HttpError(400, 'body must be a JSON object');
  const deploymentId = body.deployment_id;
  if (typeof deploymentId !== 'string' || deploymentId === '') {
    throw new HttpError(400, 'deployment_id is required');
  }
  for (const field of ['secrets', 'environment', 'config'] as const) {
    if (body[field] !== undefined && !isRecord(body[field]))
      throw new HttpError(400, `${field} must be an object`);
  }
  if (body.agent_id !== undefined && typeof body.agent_id !== 'string') {
    throw new HttpError(400, 'agent_id must be a string');
  }
  // deployment_id is "{agentType}:{version}@{environment}"
  const agentType = deploymentId.split('@', 1)[0].split(':', 1)[0];
  if (agentType === FAILING_AGENT_TYPE) {
    state.log(`instance creation failed with 500 (agent type "${FAILING_AGENT_TYPE}")`);
    throw new HttpError(500, 'agent failed to start');
  }
  const agent = AGENTS.get(agentType);
  if (!agent) throw new HttpError(400, `unknown agent type "${agentType}"`);

  const id = `inst_${randomBytes(8).toString('hex')}`;
  const instance = new SimInstance(id, deploymentId, agent, body.agent_id as string | undefined, state);
  state.instances.set(id, instance);
  state.counters.instancesCreated++;
  // Secret values are never logged; only how many were given.
  const secrets = isRecord(body.secrets) ? Object.keys(body.secrets).length : 0;
  state.log(`instance ${id} created (${deploymentId}, agent_id ${body.agent_id ?? '-'}, ${secrets} secrets)`);
  sendJson(res, 201, instance.info());
}

function listFiles(instance: SimInstance, res: ServerResponse, query: URLSearchParams): void {
  const path = query.get('path') ?? '';
  path
    .split('/')
    .filter((s) => s !== '')
    .forEach(checkSegment);
  const rawDepth = query.get('depth');
  const depth = rawDepth === null || rawDepth === '' ? 1 : Number(rawDepth);
  if (!Number.isInteger(depth) || depth < 1 || depth > MAX_LIST_DEPTH) {
    throw new HttpError(400, `depth must be an integer from 1 to ${MAX_LIST_DEPTH}`);
  }
  const entries = instance.workspace.list(path, depth);
  if (!entries) throw new HttpError(404, `no such path: ${path}`);
  sendJson(res, 200, entries);
}

/**
 * `files/{path}`, `files/{path}/history`, `files/{path}/at/{n}`. A trailing `history` or `at/{n}` is a
 * sub-route only when what precedes it is an existing file, so a file named `history` stays readable.
 */
function fileRoute(instance: SimInstance, res: ServerResponse, parts: string[], chunked: boolean): void {
  const ws = instance.workspace;
  const sendContent = chunked ? sendJsonChunked : sendJson;
  const last = parts[parts.length - 1];
  const before = (n: number) => parts.slice(0, parts.length - n).join('/');

  if (last === 'history' && parts.length >= 2 && ws.exists(before(1))) {
    return sendJson(res, 200, ws.history(before(1)));
  }
  if (parts.length >= 3 && parts[parts.length - 2] === 'at' && ws.exists(before(2))) {
    const iteration = Number(last);
    if (!/^\d+$/.test(last) || iteration < 1)
      throw new HttpError(400, 'iteration must be a positive integer');
    const content = ws.at(before(2), iteration);
    if (!content) throw new HttpError(404, `iteration ${iteration} of ${before(2)} not found`);
    return sendContent(res, 200, content);
  }
  const path = parts.join('/');
  const content = ws.read(path);
  if (!content) {
    throw new HttpError(404, ws.isDirectory(path) ? `${path} is a directory` : `file not found: ${path}`);
  }
  sendContent(res, 200, content);
}
