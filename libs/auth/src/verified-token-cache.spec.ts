import { createHash } from 'node:crypto';
import type { TenantId } from '@app/common';
import type { VerifiedClaims } from './identity';
import { VerifiedTokenCache } from './verified-token-cache';

const claims = (userId: string, expiresAt?: number): VerifiedClaims => ({
  userId,
  email: `${userId}@example.com`,
  tenantId: 't1' as TenantId,
  claimedRoles: [],
  expiresAt,
});

describe('VerifiedTokenCache', () => {
  it('keys by the SHA-256 of the raw token, never the token itself', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.payload.signature';
    const key = VerifiedTokenCache.keyOf(token);
    expect(key).toBe(createHash('sha256').update(token).digest('base64url'));
    expect(key).not.toContain(token);
    expect(VerifiedTokenCache.keyOf(`${token}x`)).not.toBe(key);
  });

  it('returns what was stored until the TTL passes', () => {
    const cache = new VerifiedTokenCache(10, 300_000);
    const c = claims('u1');
    cache.set('tok', c, 1_000);
    expect(cache.get('tok', 1_000)).toBe(c);
    expect(cache.get('tok', 300_999)).toBe(c);
    expect(cache.get('tok', 301_000)).toBeUndefined();
    expect(cache.get('other', 1_000)).toBeUndefined();
  });

  it('keeps an entry until its exp when that comes before the TTL', () => {
    const cache = new VerifiedTokenCache(10, 300_000);
    cache.set('tok', claims('u1', 61_000), 1_000);
    expect(cache.get('tok', 60_999)).toBeDefined();
    expect(cache.get('tok', 61_000)).toBeUndefined();
  });

  it('keeps an entry for the TTL when exp is later', () => {
    const cache = new VerifiedTokenCache(10, 300_000);
    cache.set('tok', claims('u1', 10_000_000), 0);
    expect(cache.get('tok', 299_999)).toBeDefined();
    expect(cache.get('tok', 300_000)).toBeUndefined();
  });

  it('does not store a token that is already expired', () => {
    const cache = new VerifiedTokenCache(10, 300_000);
    cache.set('past', claims('u1', 500), 1_000);
    cache.set('now', claims('u2', 1_000), 1_000);
    expect(cache.size).toBe(0);
    expect(cache.get('past', 0)).toBeUndefined();
  });

  it('drops an expired entry when it is read', () => {
    const cache = new VerifiedTokenCache(10, 1_000);
    cache.set('tok', claims('u1'), 0);
    expect(cache.size).toBe(1);
    expect(cache.get('tok', 5_000)).toBeUndefined();
    expect(cache.size).toBe(0);
    // A later read at an earlier clock cannot resurrect it.
    expect(cache.get('tok', 10)).toBeUndefined();
  });

  it('evicts the oldest inserted entry when full (FIFO, reads do not refresh)', () => {
    const cache = new VerifiedTokenCache(2, 300_000);
    cache.set('a', claims('a'), 0);
    cache.set('b', claims('b'), 1);
    expect(cache.get('a', 2)).toBeDefined();
    cache.set('c', claims('c'), 3);
    expect(cache.size).toBe(2);
    expect(cache.get('a', 4)).toBeUndefined();
    expect(cache.get('b', 4)?.userId).toBe('b');
    expect(cache.get('c', 4)?.userId).toBe('c');
  });

  it('re-setting a token replaces it without growing and counts as a new insertion', () => {
    const cache = new VerifiedTokenCache(2, 300_000);
    cache.set('a', claims('a1'), 0);
    cache.set('b', claims('b'), 1);
    cache.set('a', claims('a2'), 2);
    expect(cache.size).toBe(2);
    cache.set('c', claims('c'), 3);
    expect(cache.get('b', 4)).toBeUndefined();
    expect(cache.get('a', 4)?.userId).toBe('a2');
  });

  it('never holds more than max entries', () => {
    const cache = new VerifiedTokenCache(5, 300_000);
    for (let i = 0; i < 50; i++) cache.set(`t${i}`, claims(`u${i}`), i);
    expect(cache.size).toBe(5);
    for (let i = 45; i < 50; i++) expect(cache.get(`t${i}`, 100)?.userId).toBe(`u${i}`);
    expect(cache.get('t44', 100)).toBeUndefined();
  });

  it('max 0 disables the cache', () => {
    const cache = new VerifiedTokenCache(0, 300_000);
    cache.set('tok', claims('u1'), 0);
    expect(cache.size).toBe(0);
    expect(cache.get('tok', 0)).toBeUndefined();
  });

  it('ttl 0 disables the cache', () => {
    const cache = new VerifiedTokenCache(10, 0);
    cache.set('tok', claims('u1'), 0);
    expect(cache.get('tok', 0)).toBeUndefined();
  });

  it('sweep removes expired entries only', () => {
    const cache = new VerifiedTokenCache(10, 1_000);
    cache.set('short', claims('s', 500), 0);
    cache.set('long', claims('l'), 0);
    cache.sweep(499);
    expect(cache.size).toBe(2);
    cache.sweep(500);
    expect(cache.size).toBe(1);
    expect(cache.get('long', 999)).toBeDefined();
    cache.sweep(1_000);
    expect(cache.size).toBe(0);
  });
});
