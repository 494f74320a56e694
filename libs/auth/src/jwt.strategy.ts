import { Inject, Injectable, Optional } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import type { JwtPayload } from 'jsonwebtoken';
import { RoleResolver } from './role-resolver';
import { TokenVerifier } from './token-verifier';
import type { AuthIdentity } from './identity';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { TENANT_ADMISSION, type TenantAdmission } from './tenant-admission';

/**
 * passport-jwt strategy for HTTP endpoints. Keys, algorithms, issuer, audience, clock tolerance and
 * the claim mapping all come from the same TokenVerifier the WebSocket uses.
 */
@Injectable()
export class JwtStrategy extends PassportStrategy(Strategy, 'jwt') {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly roles: RoleResolver,
    @Inject(AUTH_OPTIONS) config: AuthConfig,
    @Optional() @Inject(TENANT_ADMISSION) private readonly admission?: TenantAdmission,
  ) {
    const options = verifier.verifyOptions();
    super({
      jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
      secretOrKeyProvider: (_req: unknown, rawJwt: string, done: (err: unknown, key?: string) => void) => {
        verifier.keyForToken(rawJwt).then(
          (key) => done(null, key),
          (err) => done(err),
        );
      },
      algorithms: ['RS256'],
      issuer: options.issuer as string | undefined,
      audience: options.audience as string | undefined,
      jsonWebTokenOptions: { clockTolerance: config.clockToleranceS },
    });
  }

  async validate(payload: JwtPayload): Promise<AuthIdentity> {
    const claims = this.verifier.claimsFrom(payload);
    this.admission?.admit(claims.tenantId);
    const role = await this.roles.resolve(claims.tenantId, claims.userId, claims.claimedRoles);
    return { userId: claims.userId, email: claims.email, tenantId: claims.tenantId, role, via: 'jwt' };
  }
}
