import type { FileEntry, FileIteration } from '@app/protocol';
import { PodiumError } from './podium.errors';

/** Podium's answers, read leniently: the shapes a coordinator may send, mapped to the protocol's types. */

export interface PodiumFileContent {
  path: string;
  content: string;
  encoding: 'utf8' | 'base64';
  size: number;
  iteration?: number;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Epoch ms from a number or an ISO string. */
function time(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

function badBody(route: string, status: number): PodiumError {
  return new PodiumError('http', `Podium GET ${route}: unexpected response body`, status, route);
}

function listOf(body: unknown, keys: string[]): unknown[] | undefined {
  if (Array.isArray(body)) return body;
  if (!isRecord(body)) return undefined;
  for (const key of keys) if (Array.isArray(body[key])) return body[key] as unknown[];
  return undefined;
}

const DIRECTORY_TYPES = new Set(['directory', 'dir', 'folder']);

/** Accepts `FileEntry[]` or `{ entries | files | items: [...] }`, snake_case or camelCase fields. */
export function toEntries(body: unknown, dir: string, status: number, route: string): FileEntry[] {
  const list = listOf(body, ['entries', 'files', 'items']);
  if (!list) throw badBody(route, status);
  return list.filter(isRecord).map((e) => {
    const name = str(e.name);
    const path = str(e.path) ?? (dir && name ? `${dir}/${name}` : (name ?? ''));
    const type = str(e.type)?.toLowerCase();
    const entry: FileEntry = {
      path,
      name: name ?? path.split('/').filter(Boolean).pop() ?? path,
      type:
        (type !== undefined && DIRECTORY_TYPES.has(type)) || e.is_dir === true || e.isDirectory === true
          ? 'directory'
          : 'file',
    };
    const size = num(e.size);
    if (size !== undefined) entry.size = size;
    const modifiedAt = time(e.modified_at ?? e.modifiedAt ?? e.mtime);
    if (modifiedAt !== undefined) entry.modifiedAt = modifiedAt;
    return entry;
  });
}

/** Accepts `IterationMeta[]` or `{ iterations | history: [...] }`; rows without an iteration number are skipped. */
export function toIterations(body: unknown, status: number, route: string): FileIteration[] {
  const list = listOf(body, ['iterations', 'history', 'items']);
  if (!list) throw badBody(route, status);
  const out: FileIteration[] = [];
  for (const e of list.filter(isRecord)) {
    const iteration = num(e.iteration);
    if (iteration === undefined) continue;
    out.push({
      iteration,
      timestamp: time(e.timestamp ?? e.created_at ?? e.createdAt ?? e.ts) ?? 0,
      size: num(e.size) ?? 0,
      hash: str(e.hash) ?? str(e.content_hash) ?? str(e.contentHash) ?? '',
    });
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A JSON object with a string `content` is taken as `{ path?, content, encoding?, size?, iteration? }`;
 * any other body is the raw file: UTF-8 text when it decodes as such, base64 otherwise.
 */
export function toFileContent(
  answer: { headers: Headers; body: Buffer },
  path: string,
  iteration: number | undefined,
): PodiumFileContent {
  const contentType = answer.headers.get('content-type') ?? '';
  if (contentType.includes('json')) {
    const body = parseJson(answer.body);
    if (isRecord(body) && typeof body.content === 'string') {
      const encoding = body.encoding === 'base64' ? 'base64' : 'utf8';
      const size =
        num(body.size) ??
        (encoding === 'base64'
          ? Buffer.from(body.content, 'base64').length
          : Buffer.byteLength(body.content));
      const result: PodiumFileContent = {
        path: str(body.path) ?? path,
        content: body.content,
        encoding,
        size,
      };
      const at = num(body.iteration) ?? iteration;
      if (at !== undefined) result.iteration = at;
      return result;
    }
  }
  let content: string;
  let encoding: 'utf8' | 'base64';
  try {
    content = UTF8.decode(answer.body);
    encoding = 'utf8';
  } catch {
    content = answer.body.toString('base64');
    encoding = 'base64';
  }
  const result: PodiumFileContent = { path, content, encoding, size: answer.body.length };
  if (iteration !== undefined) result.iteration = iteration;
  return result;
}
