import { Logger } from '@nestjs/common';
import { JwksClient } from 'jwks-rsa';

/** How long a fetched key set is trusted before the next verification refreshes it. */
const KEY_SET_MAX_AGE_MS = 10 * 60_000;

/**
 * The RS256 public keys of one issuer, from its JWKS document (jwks-rsa), by key id. An unknown `kid`
 * refetches the set at most once per cooldown, so keys rotate without a restart and a flood of made-up
 * key ids costs the issuer one download per cooldown; concurrent refreshes share one download.
 */
export class IssuerKeySet {
  private readonly logger = new Logger(IssuerKeySet.name);
  private readonly jwks: JwksClient;
  private keys = new Map<string, string>();
  private keysFetchedAt = 0;
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;
  /** Number of key-set downloads, for tests. */
  fetchCount = 0;

  constructor(
    private readonly jwksUri: string,
    private readonly cooldownMs: number,
  ) {
    this.jwks = new JwksClient({ jwksUri, cache: false, rateLimit: false, timeout: 5000 });
  }

  /** The PEM key with this key id (the only key, when the token names none), or undefined. */
  async keyFor(kid: string | undefined): Promise<string | undefined> {
    const stale = Date.now() - this.keysFetchedAt > KEY_SET_MAX_AGE_MS;
    const known = this.lookup(kid);
    if (known && !stale) return known;
    // Unknown kid (or an old key set): refetch, at most once per cooldown.
    if (Date.now() - this.lastFetchAt >= this.cooldownMs || stale) await this.refresh();
    return this.lookup(kid);
  }

  private lookup(kid: string | undefined): string | undefined {
    if (kid) return this.keys.get(kid);
    return this.keys.size === 1 ? this.keys.values().next().value : undefined;
  }

  private refresh(): Promise<void> {
    this.inflight ??= (async () => {
      this.lastFetchAt = Date.now();
      this.fetchCount++;
      try {
        const keys = await this.jwks.getSigningKeys();
        const next = new Map<string, string>();
        for (const k of keys) if (k.kid) next.set(k.kid, k.getPublicKey());
        if (keys.length === 1 && !keys[0].kid) next.set('', keys[0].getPublicKey());
        this.keys = next;
        this.keysFetchedAt = Date.now();
      } catch (err) {
        this.logger.warn(`JWKS fetch from ${this.jwksUri} failed: ${(err as Error).message}`);
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }
}
