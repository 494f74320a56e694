import { isUtf8 } from 'node:buffer';
import { getMetadataStorage, validateSync } from 'class-validator';
import { CLIENT_MESSAGES, isClientMessageType, type ClientMessage, type ErrorCode } from '@app/protocol';
import type { ClientMessageExtension } from './message-extensions';

export type FrameResult =
  | { ok: true; message: ClientMessage; /** the frame as received (forwarded as is) */ text: string }
  | { ok: false; code: ErrorCode; message: string; requestId?: string; retryAfterMs?: number };

/** How much of a frame that is not parsed (too large, rate-limited, not JSON) is searched for its requestId. */
export const REQUEST_ID_SCAN_BYTES = 1024;
const REQUEST_ID_PATTERN = /"requestId"\s*:\s*("(?:[^"\\]|\\.){1,256}")/;

/**
 * The `requestId` of a frame that is answered without being parsed: looked for in its first KiB only, so
 * an error costs the same whatever the frame holds. A client that puts `requestId` first (as the SDK
 * does) always gets it back.
 */
export function requestIdHint(data: Buffer): string | undefined {
  const head = data.subarray(0, REQUEST_ID_SCAN_BYTES).toString('utf8');
  const m = REQUEST_ID_PATTERN.exec(head);
  if (!m) return undefined;
  try {
    const id: unknown = JSON.parse(m[1]);
    return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined;
  } catch {
    return undefined;
  }
}

const declaredKeys = new Map<unknown, ReadonlySet<string>>();

/** The properties a DTO class declares validation for: the only keys copied from the frame. */
function keysOf(cls: new () => unknown): ReadonlySet<string> {
  let keys = declaredKeys.get(cls);
  if (!keys) {
    const metas = getMetadataStorage().getTargetValidationMetadatas(cls, '', true, false);
    keys = new Set(metas.map((m) => m.propertyName).filter((k) => k !== '__proto__' && k !== 'constructor'));
    declaredKeys.set(cls, keys);
  }
  return keys;
}

/**
 * The transport layer, in the order of docs/architecture.md ("WebSocket pipeline"): size (before parsing) → per-connection rate
 * → JSON → schema. Total: every input yields a message or a protocol error.
 */
export class FramePipeline {
  constructor(
    private readonly maxBytes: number,
    /** Message types contributed by extension modules (docs/extending.md), by name. */
    private readonly extensions: ReadonlyMap<string, ClientMessageExtension> = new Map(),
  ) {}

  accept(data: Buffer, isBinary: boolean, rateWait: () => number): FrameResult {
    if (data.length > this.maxBytes) {
      return {
        ok: false,
        code: 'MESSAGE_TOO_LARGE',
        message: `Message exceeds ${this.maxBytes} bytes`,
        requestId: requestIdHint(data),
      };
    }
    const wait = rateWait();
    if (wait > 0)
      return {
        ok: false,
        code: 'RATE_LIMITED',
        message: 'Too many messages; slow down',
        retryAfterMs: wait,
        requestId: requestIdHint(data),
      };
    if (isBinary)
      return {
        ok: false,
        code: 'INVALID_MESSAGE',
        message: 'Binary frames are not accepted',
        requestId: requestIdHint(data),
      };
    if (!isUtf8(data)) return { ok: false, code: 'INVALID_JSON', message: 'Frame is not valid UTF-8' };
    const text = data.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return {
        ok: false,
        code: 'INVALID_JSON',
        message: 'Frame is not valid JSON',
        requestId: requestIdHint(data),
      };
    }
    const result = this.validate(parsed);
    return result.ok ? { ok: true, message: result.message, text } : result;
  }

  validate(parsed: unknown): { ok: true; message: ClientMessage } | Exclude<FrameResult, { ok: true }> {
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, code: 'INVALID_MESSAGE', message: 'A message must be a JSON object' };
    }
    const raw = parsed as Record<string, unknown>;
    const requestId =
      typeof raw.requestId === 'string' && raw.requestId.length <= 128 ? raw.requestId : undefined;
    const cls = isClientMessageType(raw.type)
      ? CLIENT_MESSAGES[raw.type]
      : typeof raw.type === 'string' && this.extensions.size > 0
        ? this.extensions.get(raw.type)?.dto
        : undefined;
    if (!cls) {
      const shown = typeof raw.type === 'string' ? `"${raw.type.slice(0, 64)}"` : 'missing';
      return { ok: false, code: 'INVALID_MESSAGE', message: `Unknown message type ${shown}`, requestId };
    }
    const dto = new cls() as unknown as Record<string, unknown>;
    // Only declared fields are copied: unknown ones (including `__proto__` and names of Object's own
    // methods) are ignored, as the protocol says.
    for (const key of keysOf(cls)) {
      if (Object.prototype.hasOwnProperty.call(raw, key)) dto[key] = raw[key];
    }
    const errors = validateSync(dto, { forbidUnknownValues: false });
    if (errors.length > 0) {
      const first = errors[0];
      const why = Object.values(first.constraints ?? {})[0] ?? 'is invalid';
      return { ok: false, code: 'INVALID_MESSAGE', message: `${raw.type}: ${why}`.slice(0, 300), requestId };
    }
    return { ok: true, message: dto as unknown as ClientMessage };
  }
}
