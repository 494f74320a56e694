import { Injectable } from '@nestjs/common';
import type { SessionId, TenantId } from '@app/common';
import { SessionStore, TenantRegistry, type TurnUsageRecord } from '@app/persistence';
import { SessionNotFoundError } from '@app/protocol';

/** A usage row with the session it belongs to. */
export type TurnUsageView = TurnUsageRecord & { sessionId: string };

export interface UsageReport {
  turns: TurnUsageView[];
  /** Over every turn that matches the filter, not only this page. */
  totals: { inputTokens: number; outputTokens: number; cost: number };
  /** Pass as `before` for the next (older) page; absent on the last page. */
  nextBefore?: string;
}

export interface UsageQuery {
  sessionId?: string;
  limit: number;
  /** A cursor from `nextBefore`, or a unix-ms time (turns recorded strictly earlier). */
  before?: string;
}

/** Session databases read at a time. */
const READ_CONCURRENCY = 8;

type Key = [createdAt: number, sessionId: string, turnId: string];

/**
 * Per-turn usage of a tenant's sessions. The rows live in each session's session.db; only sessions the
 * tenant's registry lists are read, so a session id never reaches the filesystem unvouched.
 */
@Injectable()
export class UsageService {
  constructor(
    private readonly registry: TenantRegistry,
    private readonly store: SessionStore,
  ) {}

  async report(tenantId: TenantId, query: UsageQuery): Promise<UsageReport> {
    const sessions = await this.sessionsOf(tenantId, query.sessionId);
    const all: TurnUsageView[] = [];
    const queue = [...sessions];
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) all.push(...(await this.read(id)));
    };
    await Promise.all(Array.from({ length: Math.min(READ_CONCURRENCY, queue.length) }, worker));

    const totals = { inputTokens: 0, outputTokens: 0, cost: 0 };
    for (const t of all) {
      totals.inputTokens += t.inputTokens;
      totals.outputTokens += t.outputTokens;
      totals.cost += t.cost;
    }
    all.sort((a, b) => compare(keyOf(b), keyOf(a)));
    const bound = query.before === undefined ? undefined : parseCursor(query.before);
    const older = bound ? all.filter((t) => compare(keyOf(t), bound) < 0) : all;
    const page = older.slice(0, query.limit);
    const more = older.length > query.limit;
    return {
      turns: page,
      totals,
      ...(more ? { nextBefore: cursorOf(keyOf(page[page.length - 1])) } : {}),
    };
  }

  private async sessionsOf(tenantId: TenantId, sessionId?: string): Promise<SessionId[]> {
    if (sessionId !== undefined) {
      const row = await this.registry.findSession(tenantId, sessionId);
      if (!row) throw new SessionNotFoundError();
      return [row.id];
    }
    const rows = await this.registry.listSessions(tenantId, true);
    return rows.map((r) => r.id as SessionId);
  }

  private async read(sessionId: SessionId): Promise<TurnUsageView[]> {
    await this.store.writer.flushSession(sessionId);
    const rows = await this.store.usage(sessionId);
    return rows.map((r) => ({
      sessionId,
      turnId: String(r.turn_id),
      model: typeof r.model === 'string' ? r.model : null,
      inputTokens: Number(r.input_tokens ?? 0),
      outputTokens: Number(r.output_tokens ?? 0),
      cacheReadTokens: Number(r.cache_read_tokens ?? 0),
      cacheWriteTokens: Number(r.cache_write_tokens ?? 0),
      cost: Number(r.cost ?? 0),
      createdAt: Number(r.created_at ?? 0),
    }));
  }
}

function keyOf(t: TurnUsageView): Key {
  return [t.createdAt, t.sessionId, t.turnId];
}

function compare(a: Key, b: Key): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  if (a[2] !== b[2]) return a[2] < b[2] ? -1 : 1;
  return 0;
}

export function cursorOf(key: Key): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** A cursor or a plain unix-ms time; anything else is not a valid bound. */
export function parseCursor(value: string): Key {
  if (/^\d{1,16}$/.test(value)) return [Number(value), '', ''];
  try {
    const key: unknown = JSON.parse(Buffer.from(value, 'base64url').toString());
    if (
      Array.isArray(key) &&
      key.length === 3 &&
      Number.isSafeInteger(key[0]) &&
      typeof key[1] === 'string' &&
      typeof key[2] === 'string'
    )
      return key as Key;
  } catch {
    // fall through
  }
  throw new InvalidCursorError();
}

export class InvalidCursorError extends Error {
  constructor() {
    super('before: not a cursor returned as nextBefore, nor a unix-ms time');
    this.name = 'InvalidCursorError';
  }
}
