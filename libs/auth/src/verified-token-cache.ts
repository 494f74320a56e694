import { createHash } from 'node:crypto';
import type { VerifiedClaims } from './identity';

/**
 * Verified tokens by SHA-256 of the raw token: at most `max` entries (oldest inserted evicted first),
 * each kept for min(ttl, time to `exp`).
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { claims: VerifiedClaims; until: number }>();

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(token: string, now = Date.now()): VerifiedClaims | undefined {
    const key = VerifiedTokenCache.keyOf(token);
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.claims;
  }

  set(token: string, claims: VerifiedClaims, now = Date.now()): void {
    if (this.max === 0 || this.ttlMs === 0) return;
    const until = Math.min(now + this.ttlMs, claims.expiresAt ?? Number.POSITIVE_INFINITY);
    if (until <= now) return;
    const key = VerifiedTokenCache.keyOf(token);
    this.entries.delete(key);
    while (this.entries.size >= this.max) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { claims, until });
  }

  sweep(now = Date.now()): void {
    for (const [key, e] of this.entries) if (e.until <= now) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
