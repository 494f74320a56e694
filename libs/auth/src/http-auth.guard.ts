import {
  createParamDecorator,
  Inject,
  Injectable,
  SetMetadata,
  UnauthorizedException,
  ForbiddenException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import { can, DomainError, type Permission } from '@app/protocol';
import { API_KEY_PREFIX } from './api-key-verifier';
import { AUTH_OPTIONS } from './auth.module-definition';
import type { AuthConfig } from './auth.config';
import { AuthService } from './auth.service';
import { DEV_IDENTITY, type AuthIdentity } from './identity';

const PERMISSION_KEY = 'diminuendo:permission';

/** The permission an HTTP handler needs; checked by HttpAuthGuard after authentication. */
export const RequirePermission = (permission: Permission) => SetMetadata(PERMISSION_KEY, permission);

/** The authenticated identity of the current HTTP request. */
export const CurrentIdentity = createParamDecorator(
  (_data: unknown, ctx: ExecutionContext): AuthIdentity => ctx.switchToHttp().getRequest().user,
);

const PassportJwtGuard = AuthGuard('jwt');

/** The credential of an `Authorization: Bearer <credential>` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/**
 * HTTP authentication: `Authorization: Bearer <jwt>` through passport-jwt, or an API key; in dev mode a
 * request without a credential acts as the dev identity. 401 without valid credentials, 403 without
 * the handler's permission.
 */
@Injectable()
export class HttpAuthGuard extends PassportJwtGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    @Inject(AUTH_OPTIONS) private readonly config: AuthConfig,
  ) {
    super();
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest();
    const bearer = bearerToken(req.headers.authorization);
    if (!bearer && this.config.devMode) {
      req.user = DEV_IDENTITY;
    } else if (bearer?.startsWith(API_KEY_PREFIX)) {
      req.user = await this.auth.verifyCredential(bearer).catch((err: unknown) => {
        if (err instanceof DomainError && err.code === 'TENANT_NOT_SERVED') throw err;
        if (err instanceof DomainError)
          throw new UnauthorizedException({ code: 'AUTH_FAILED', message: err.message });
        throw err;
      });
    } else if (this.config.devMode && bearer) {
      req.user = DEV_IDENTITY;
    } else {
      await (super.canActivate(context) as Promise<boolean>);
    }
    const permission = this.reflector.getAllAndOverride<Permission | undefined>(PERMISSION_KEY, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (permission && !can((req.user as AuthIdentity).role, permission)) {
      throw new ForbiddenException({ code: 'FORBIDDEN', message: 'Your role does not allow this action' });
    }
    return true;
  }

  override handleRequest<T>(err: unknown, user: T): T {
    // A verified credential of a tenant this instance does not serve (TENANT_ADMISSION): 421, not 401.
    if (err instanceof DomainError && err.code === 'TENANT_NOT_SERVED') throw err;
    if (err || !user)
      throw new UnauthorizedException({ code: 'AUTH_FAILED', message: 'Authentication failed' });
    return user;
  }
}
