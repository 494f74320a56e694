import { Inject, Injectable, Optional } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import type { Request } from 'express';
import { ExtractJwt, Strategy } from 'passport-jwt';
import { RoleResolver } from './role-resolver';
import { TokenIssuers } from './token-issuers';
import { TokenVerifier } from './token-verifier';
import type { AuthIdentity } from './identity';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { TENANT_ADMISSION, type TenantAdmission } from './tenant-admission';

const bearer = ExtractJwt.fromAuthHeaderAsBearerToken();

/**
 * passport-jwt strategy for HTTP endpoints. passport-jwt takes the bearer token and checks it with the
 * key of the issuer its `iss` names (RS256, any trusted issuer and audience); `validate` then runs the
 * TokenVerifier the WebSocket uses on the same token, which holds it to that issuer's own audience and
 * claim names. Keys, options and the claim mapping are those of the WebSocket.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly roles: RoleResolver,
    issuers: TokenIssuers,
    @Inject(AUTH_OPTIONS) config: AuthConfig,
    @Optional() @Inject(TENANT_ADMISSION) private readonly admission?: TenantAdmission,
  ) {
    const trusted = issuers.all().map((i) => i.config);
    super({
      jwtFromRequest: bearer,
      secretOrKeyProvider: (_req: unknown, rawJwt: string, done: (err: unknown, key?: string) => void) => {
        verifier.keyForToken(rawJwt).then(
          (key) => done(null, key),
          (err) => done(err),
        );
      },
      algorithms: ['RS256'],
      issuer: trusted.map((i) => i.issuer),
      audience: trusted.map((i) => i.audience),
      jsonWebTokenOptions: { clockTolerance: config.clockToleranceS },
      passReqToCallback: true,
    });
  }

  async validate(req: Request): Promise<AuthIdentity> {
    const claims = await this.verifier.verify(bearer(req) ?? '');
    this.admission?.admit(claims.tenantId);
    const role = await this.roles.resolve(claims.tenantId, claims.userId, claims.claimedRoles);
    return { userId: claims.userId, email: claims.email, tenantId: claims.tenantId, role, via: 'jwt' };
  }
}
