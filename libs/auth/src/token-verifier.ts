import { Inject, Injectable, Logger } from '@nestjs/common';
import jwt, { type JwtHeader, type JwtPayload } from 'jsonwebtoken';
import { DomainError } from '@app/protocol';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { mapClaims } from './claim-mapping';
import type { VerifiedClaims } from './identity';
import { TokenIssuers, type TrustedIssuer } from './token-issuers';
import { VerifiedTokenCache } from './verified-token-cache';

/**
 * Verifies access tokens: RS256 only, from one of the trusted issuers (TokenIssuers). The token's
 * unverified `iss` chooses the issuer (an issuer not listed fails before any key is fetched); the
 * token is then verified with that issuer's keys, `iss`, audience and clock tolerance, and its claims
 * mapped with that issuer's claim names. The WebSocket path and the passport strategy share this class.
 */
@Injectable()
export class TokenVerifier {
  private readonly logger = new Logger(TokenVerifier.name);
  /** By SHA-256 of the whole token, which contains its `iss`: a token is only ever its own issuer's. */
  private readonly cache: VerifiedTokenCache;

  constructor(
    @Inject(AUTH_OPTIONS) config: AuthConfig,
    private readonly issuers: TokenIssuers,
  ) {
    this.cache = new VerifiedTokenCache(config.cacheMax, config.cacheTtlMs);
  }

  /** Verifies a raw JWT (cached by its SHA-256) and maps its claims. Throws AUTH_FAILED. */
  async verify(token: string): Promise<VerifiedClaims> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const { issuer, header } = this.issuerOf(token);
    const key = await this.keyFor(issuer, header);
    let payload: JwtPayload;
    try {
      payload = jwt.verify(token, key, issuer.verifyOptions()) as JwtPayload;
    } catch (err) {
      throw this.failure(`token rejected: ${(err as Error).message}`);
    }
    const mapped = mapClaims(payload, issuer.config);
    if (!mapped.ok) throw this.failure(mapped.reason);
    this.cache.set(token, mapped.claims);
    return mapped.claims;
  }

  /** The PEM key of the issuer the token names that should have signed it, or AUTH_FAILED. */
  async keyForToken(token: string): Promise<string> {
    const { issuer, header } = this.issuerOf(token);
    return this.keyFor(issuer, header);
  }

  sweepCache(): void {
    this.cache.sweep();
  }

  /** Decodes without verifying: RS256 only, and an `iss` that names a trusted issuer. */
  private issuerOf(token: string): { issuer: TrustedIssuer; header: JwtHeader } {
    const decoded = jwt.decode(token, { complete: true });
    if (!decoded || typeof decoded === 'string') throw this.failure('not a JWT');
    if (decoded.header.alg !== 'RS256') throw this.failure(`algorithm ${decoded.header.alg} refused`);
    const iss = typeof decoded.payload === 'object' ? decoded.payload.iss : undefined;
    const issuer = this.issuers.find(iss);
    if (!issuer) throw this.failure(`untrusted issuer ${JSON.stringify(iss)?.slice(0, 200)}`);
    return { issuer, header: decoded.header };
  }

  private async keyFor(issuer: TrustedIssuer, header: JwtHeader): Promise<string> {
    const key = await issuer.keys.keyFor(header.kid);
    if (!key) throw this.failure(`unknown signing key of ${issuer.config.issuer}`);
    return key;
  }

  private failure(detail: string): DomainError {
    this.logger.debug(`authentication failed: ${detail}`);
    return new DomainError('AUTH_FAILED');
  }
}
