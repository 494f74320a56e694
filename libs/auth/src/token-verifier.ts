import { Inject, Injectable, Logger } from '@nestjs/common';
import jwt, { type JwtHeader, type JwtPayload } from 'jsonwebtoken';
import { JwksClient } from 'jwks-rsa';
import { isSafeId, type TenantId } from '@app/common';
import { DomainError } from '@app/protocol';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import type { VerifiedClaims } from './identity';
import { VerifiedTokenCache } from './verified-token-cache';

/** How long a fetched key set is trusted before the next verification refreshes it. */
const KEY_SET_MAX_AGE_MS = 10 * 60_000;

/**
 * Verifies Auth0 access tokens: RS256 only, keys from `${AUTH_URL}/.well-known/jwks.json` (jwks-rsa),
 * issuer, audience and clock tolerance as configured; an unknown `kid` refetches the key set at most
 * once per cooldown, so keys rotate without a restart. The WebSocket path and the passport strategy
 * share this class: the same keys, the same options, the same claim mapping.
 */
@Injectable()
export class TokenVerifier {
  private readonly logger = new Logger(TokenVerifier.name);
  private readonly jwks?: JwksClient;
  private readonly cache: VerifiedTokenCache;
  private keys = new Map<string, string>();
  private keysFetchedAt = 0;
  private lastFetchAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;
  /** Number of key-set downloads, for metrics and tests. */
  fetchCount = 0;

  constructor(@Inject(AUTH_OPTIONS) private readonly config: AuthConfig) {
    if (config.jwksUri) {
      this.jwks = new JwksClient({ jwksUri: config.jwksUri, cache: false, rateLimit: false, timeout: 5000 });
    }
    this.cache = new VerifiedTokenCache(config.cacheMax, config.cacheTtlMs);
  }

  readonly verifyOptions = (): jwt.VerifyOptions => ({
    algorithms: ['RS256'],
    issuer: this.config.issuer || undefined,
    audience: this.config.audience || undefined,
    clockTolerance: this.config.clockToleranceS,
  });

  /** Verifies a raw JWT (cached by its SHA-256) and maps its claims. Throws AUTH_FAILED. */
  async verify(token: string): Promise<VerifiedClaims> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const header = this.decodeHeader(token);
    const key = await this.keyFor(header);
    let payload: JwtPayload;
    try {
      payload = jwt.verify(token, key, this.verifyOptions()) as JwtPayload;
    } catch (err) {
      throw this.failure(`token rejected: ${(err as Error).message}`);
    }
    const claims = this.claimsFrom(payload);
    this.cache.set(token, claims);
    return claims;
  }

  /** The PEM key that should have signed this token, or AUTH_FAILED. */
  async keyForToken(token: string): Promise<string> {
    return this.keyFor(this.decodeHeader(token));
  }

  /** Maps verified claims to the identity fields; a token without a valid tenant fails. */
  claimsFrom(payload: JwtPayload): VerifiedClaims {
    const userId = typeof payload.sub === 'string' ? payload.sub : '';
    const tenant = this.tenantClaim(payload);
    if (!userId) throw this.failure('token has no subject');
    if (!isSafeId(tenant)) throw this.failure('token has no valid tenant claim');
    return {
      userId,
      email: typeof payload.email === 'string' ? payload.email : '',
      tenantId: tenant as TenantId,
      claimedRoles: this.rolesClaim(payload),
      expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
    };
  }

  sweepCache(): void {
    this.cache.sweep();
  }

  /**
   * The claim named exactly AUTH_TENANT_CLAIM (Auth0 custom claims are namespaced: configure the full
   * name, e.g. `https://app.example.com/tenant_id`), else Auth0's `org_id`. No other claim is read: a
   * look-alike such as `https://evil/tenant_id` must not choose the tenant.
   */
  private tenantClaim(payload: JwtPayload): unknown {
    const name = this.config.tenantClaim;
    if (Object.hasOwn(payload, name)) return payload[name];
    return Object.hasOwn(payload, 'org_id') ? payload.org_id : undefined;
  }

  private rolesClaim(payload: JwtPayload): string[] {
    const name = this.config.rolesClaim;
    if (!name) return [];
    const value = payload[name];
    if (typeof value === 'string') return [value];
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
    return [];
  }

  private decodeHeader(token: string): JwtHeader {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded === 'string') throw this.failure('not a JWT');
    if (decoded.header.alg !== 'RS256') throw this.failure(`algorithm ${decoded.header.alg} refused`);
    return decoded.header;
  }

  private async keyFor(header: JwtHeader): Promise<string> {
    if (!this.jwks) throw this.failure('no key source configured');
    const stale = Date.now() - this.keysFetchedAt > KEY_SET_MAX_AGE_MS;
    const known = this.lookup(header.kid);
    if (known && !stale) return known;
    // Unknown kid (or an old key set): refetch, at most once per cooldown.
    if (Date.now() - this.lastFetchAt >= this.config.jwksCooldownMs || stale) {
      await this.refresh();
    }
    const key = this.lookup(header.kid);
    if (!key) throw this.failure('unknown signing key');
    return key;
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
        const keys = await this.jwks!.getSigningKeys();
        const next = new Map<string, string>();
        for (const k of keys) if (k.kid) next.set(k.kid, k.getPublicKey());
        if (keys.length === 1 && !keys[0].kid) next.set('', keys[0].getPublicKey());
        this.keys = next;
        this.keysFetchedAt = Date.now();
      } catch (err) {
        this.logger.warn(`JWKS fetch failed: ${(err as Error).message}`);
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  private failure(detail: string): DomainError {
    this.logger.debug(`authentication failed: ${detail}`);
    return new DomainError('AUTH_FAILED');
  }
}
