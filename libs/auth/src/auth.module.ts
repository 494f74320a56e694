import { Global, Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AUTH_OPTIONS, AuthConfigurableModule } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { AuthService } from './auth.service';
import { FailedAuthLimiter, InMemoryFailedAuthLimiter } from './failed-auth-limiter';
import { HttpAuthGuard } from './http-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { OriginPolicy } from './origin-policy';
import { RedisFailedAuthLimiter } from './redis-failed-auth-limiter';
import { RoleResolver } from './role-resolver';
import { TokenIssuers } from './token-issuers';
import { TokenVerifier } from './token-verifier';

/** In memory unless REDIS_URL is set; the Redis one is given a few seconds to connect at boot. */
async function failedAuthLimiter(config: AuthConfig): Promise<FailedAuthLimiter> {
  if (!config.redisUrl) return new InMemoryFailedAuthLimiter(config.rateLimitMax, config.rateLimitWindowMs);
  const limiter = new RedisFailedAuthLimiter({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    max: config.rateLimitMax,
    windowMs: config.rateLimitWindowMs,
  });
  await limiter.connect();
  return limiter;
}

/** Token verification (the trusted issuers' JWKS, API keys), identity, roles, the origin policy and the HTTP guard. */
@Global()
@Module({
  imports: [PassportModule],
  providers: [
    TokenIssuers,
    TokenVerifier,
    RoleResolver,
    { provide: FailedAuthLimiter, inject: [AUTH_OPTIONS], useFactory: failedAuthLimiter },
    AuthService,
    OriginPolicy,
    JwtStrategy,
    HttpAuthGuard,
  ],
  exports: [
    TokenIssuers,
    TokenVerifier,
    RoleResolver,
    AuthService,
    OriginPolicy,
    HttpAuthGuard,
    FailedAuthLimiter,
    AUTH_OPTIONS,
  ],
})
export class AuthModule extends AuthConfigurableModule {}
