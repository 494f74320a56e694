import { Inject, Injectable, Logger, Optional, type OnModuleDestroy } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import { DomainError } from '@app/protocol';
import { API_KEY_PREFIX, API_KEY_VERIFIER, type ApiKeyVerifier } from './api-key-verifier';
import type { AuthEventMap } from './auth.events';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { DEV_IDENTITY, type AuthIdentity } from './identity';
import { RoleResolver } from './role-resolver';
import { FailedAuthLimiter } from './failed-auth-limiter';
import { TENANT_ADMISSION, type TenantAdmission } from './tenant-admission';
import { TokenVerifier } from './token-verifier';

/** retryAfterMs suggested while the shared limiter is unreachable. */
export const LIMITER_DOWN_RETRY_MS = 5000;

/**
 * Turns the `token` of an `authenticate` message (or an HTTP bearer credential) into an identity:
 * the dev identity in dev mode, an API key, or a verified JWT; failed attempts are limited per IP.
 * Each refusal is announced as `auth.failed` (`AuthEventMap`) on the application's `EventEmitter2`,
 * when it has one.
 */
@Injectable()
export class AuthService implements OnModuleDestroy {
  private readonly logger = new Logger(AuthService.name);
  private readonly sweeper: NodeJS.Timeout;
  private lastLimiterLog = 0;

  constructor(
    @Inject(AUTH_OPTIONS) private readonly config: AuthConfig,
    private readonly verifier: TokenVerifier,
    private readonly roles: RoleResolver,
    private readonly failures: FailedAuthLimiter,
    @Optional() @Inject(API_KEY_VERIFIER) private readonly apiKeys?: ApiKeyVerifier,
    @Optional() @Inject(TENANT_ADMISSION) private readonly admission?: TenantAdmission,
    @Optional() private readonly events?: EventEmitter2,
  ) {
    this.sweeper = setInterval(() => {
      this.failures.sweep();
      this.verifier.sweepCache();
    }, 60_000).unref();
  }

  get devMode(): boolean {
    return this.config.devMode;
  }

  /** Authenticates a credential on behalf of `ip`. Throws AUTH_RATE_LIMITED or AUTH_FAILED. */
  async authenticate(token: string, ip: string): Promise<AuthIdentity> {
    const wait = await this.limiterCheck(ip);
    if (wait > 0) {
      this.failed({ reason: 'rate_limited' });
      throw new DomainError('AUTH_RATE_LIMITED', undefined, { retryAfterMs: wait });
    }
    if (this.config.devMode) {
      if (!token) throw new DomainError('AUTH_FAILED');
      return DEV_IDENTITY;
    }
    try {
      return await this.verifyCredential(token);
    } catch (err) {
      if (err instanceof DomainError && err.code === 'AUTH_FAILED') {
        this.failed({ reason: 'invalid' });
        await this.failures.hit(ip).catch((e: unknown) => this.limiterDown('record a failed attempt', e));
      }
      throw err;
    }
  }

  private failed(failure: AuthEventMap['auth.failed']): void {
    this.events?.emit('auth.failed', failure);
  }

  /**
   * Fail-closed: when the limiter cannot answer (shared Redis unreachable) the attempt is refused with
   * AUTH_RATE_LIMITED, since allowing it would give every instance an unlimited budget of guesses.
   */
  private async limiterCheck(ip: string): Promise<number> {
    try {
      return await this.failures.check(ip);
    } catch (err) {
      this.limiterDown('check an attempt', err);
      return LIMITER_DOWN_RETRY_MS;
    }
  }

  private limiterDown(what: string, err: unknown): void {
    const now = Date.now();
    if (now - this.lastLimiterLog < 5000) return;
    this.lastLimiterLog = now;
    this.logger.error(
      `failed-auth limiter (${this.failures.kind}) could not ${what}: ${(err as Error).message ?? err}; ` +
        'authentication attempts are refused until it recovers (fail-closed)',
    );
  }

  /** Verifies without the per-IP limiter (used by the HTTP guard, which has its own throttling). */
  async verifyCredential(token: string): Promise<AuthIdentity> {
    if (token.startsWith(API_KEY_PREFIX)) {
      const identity = await this.apiKeys?.verify(token);
      if (!identity) throw new DomainError('AUTH_FAILED');
      this.admission?.admit(identity.tenantId);
      return identity;
    }
    const claims = await this.verifier.verify(token);
    this.admission?.admit(claims.tenantId);
    const role = await this.roles.resolve(claims.tenantId, claims.userId, claims.claimedRoles);
    return {
      userId: claims.userId,
      email: claims.email,
      tenantId: claims.tenantId,
      role,
      via: 'jwt',
      ...(claims.expiresAt !== undefined ? { expiresAt: claims.expiresAt } : {}),
    };
  }

  /**
   * When a socket authenticated with `identity` must be closed unless re-authenticated: the token's
   * `exp` plus AUTH_CLOCK_TOLERANCE_S (the leeway verification grants too); undefined when it never
   * expires (API keys, dev mode, a JWT without `exp`).
   */
  socketDeadline(identity: AuthIdentity): number | undefined {
    if (identity.expiresAt === undefined) return undefined;
    return identity.expiresAt + this.config.clockToleranceS * 1000;
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }
}
