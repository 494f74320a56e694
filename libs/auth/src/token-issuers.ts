import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import type jwt from 'jsonwebtoken';
import { ConfigValidationError } from '@app/common';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { IssuerKeySet } from './issuer-key-set';
import { resolveIssuers, TOKEN_ISSUER_EXTENSIONS, type IssuerSpec, type TokenIssuer } from './token-issuer';

/** One trusted issuer: its own key set, audience and claim names. */
export class TrustedIssuer {
  readonly keys: IssuerKeySet;

  constructor(
    readonly config: TokenIssuer,
    private readonly clockToleranceS: number,
    jwksCooldownMs: number,
  ) {
    this.keys = new IssuerKeySet(config.jwksUri, jwksCooldownMs);
  }

  /** What jsonwebtoken checks for a token of this issuer: RS256 only, its `iss`, its `aud`, `exp`/`nbf`. */
  verifyOptions(): jwt.VerifyOptions {
    return {
      algorithms: ['RS256'],
      issuer: this.config.issuer,
      audience: this.config.audience || undefined,
      clockTolerance: this.clockToleranceS,
    };
  }
}

/**
 * The issuers whose tokens the gateway accepts, by their exact `iss`: AUTH_URL's, those of
 * AUTH_EXTRA_ISSUERS, and those contributed by extensions (TOKEN_ISSUER_EXTENSIONS). None in dev mode,
 * which verifies no token. A contributed issuer is checked like a configured one; a bad one, or one
 * already configured, stops the gateway at start.
 */
@Injectable()
export class TokenIssuers {
  private readonly logger = new Logger(TokenIssuers.name);
  private readonly byIss = new Map<string, TrustedIssuer>();

  constructor(
    @Inject(AUTH_OPTIONS) config: AuthConfig,
    @Optional() @Inject(TOKEN_ISSUER_EXTENSIONS) contributed: IssuerSpec[] | null = null,
  ) {
    if (config.devMode) return;
    const extensions = resolveIssuers(contributed ?? [], 'extension issuer', config, config.issuers);
    if (extensions.problems.length > 0) throw new ConfigValidationError(extensions.problems);
    for (const issuer of [...config.issuers, ...extensions.issuers]) {
      this.byIss.set(issuer.issuer, new TrustedIssuer(issuer, config.clockToleranceS, config.jwksCooldownMs));
    }
    for (const issuer of extensions.issuers) {
      this.logger.log(`trusting tokens of ${issuer.issuer} (${issuer.source})`);
    }
  }

  /** The issuer a token names in `iss` (exact match), if trusted. */
  find(iss: unknown): TrustedIssuer | undefined {
    return typeof iss === 'string' ? this.byIss.get(iss) : undefined;
  }

  all(): TrustedIssuer[] {
    return [...this.byIss.values()];
  }
}
