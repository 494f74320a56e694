/** Small helpers for the plain `node:http` handlers. */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

/** Like `sendJson`, but without a Content-Length: the body goes out in 64 KiB chunks (chunked encoding). */
export function sendJsonChunked(res: ServerResponse, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  for (let i = 0; i < payload.length; i += 64 * 1024) res.write(payload.subarray(i, i + 64 * 1024));
  res.end();
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Reads a JSON body; an empty body reads as `{}`. Throws HttpError(400/413). */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body is not valid JSON');
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks `Authorization: Bearer <key>` in constant time. An empty configured key accepts every request. */
export function makeAuthorizer(apiKey: string): (header: string | undefined) => boolean {
  const expected = Buffer.from(apiKey, 'utf8');
  return (header) => {
    if (apiKey === '') return true;
    const match = /^Bearer\s+(.+)$/i.exec(header?.trim() ?? '');
    if (!match) return false;
    const given = Buffer.from(match[1], 'utf8');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
}

export interface ParsedUrl {
  /** Path segments, each percent-decoded on its own. */
  segments: string[];
  query: URLSearchParams;
}

/**
 * Splits the raw request target into decoded segments. The path is split *before* decoding so that
 * `%2F` cannot forge a separator; `.`/`..` segments (also encoded) and separators inside a segment are rejected.
 */
export function parseUrl(rawUrl: string): ParsedUrl {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const segments = rawPath
    .split('/')
    .filter((s) => s !== '')
    .map(decodeSegment);
  return { segments, query: new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1)) };
}

export function decodeSegment(raw: string): string {
  let segment: string;
  try {
    segment = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'malformed percent-encoding in path');
  }
  checkSegment(segment);
  return segment;
}

/** Validates one already-decoded path segment. */
export function checkSegment(segment: string): void {
  if (segment === '..' || segment === '.')
    throw new HttpError(400, `path segment "${segment}" is not allowed`);
  if (/[/\\\0]/.test(segment)) throw new HttpError(400, 'path segment contains a separator or NUL');
}
