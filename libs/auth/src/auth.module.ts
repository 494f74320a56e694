import { Global, Module } from '@nestjs/common';
import { PassportModule } from '@nestjs/passport';
import { AUTH_OPTIONS, AuthConfigurableModule } from './auth.module-definition';
import { AuthService } from './auth.service';
import { HttpAuthGuard } from './http-auth.guard';
import { JwtStrategy } from './jwt.strategy';
import { OriginPolicy } from './origin-policy';
import { RoleResolver } from './role-resolver';
import { TokenVerifier } from './token-verifier';

/** Token verification (JWKS, API keys), identity, roles, the origin policy and the HTTP guard. */
@Global()
@Module({
  imports: [PassportModule],
  providers: [TokenVerifier, RoleResolver, AuthService, OriginPolicy, JwtStrategy, HttpAuthGuard],
  exports: [TokenVerifier, RoleResolver, AuthService, OriginPolicy, HttpAuthGuard, AUTH_OPTIONS],
})
export class AuthModule extends AuthConfigurableModule {}
