import { Controller, Get, UseGuards } from '@nestjs/common';
import { CurrentIdentity, HttpAuthGuard, type AuthIdentity } from '@app/auth';

/** Who the credential of this request speaks for. */
@Controller('api/v1/me')
@UseGuards(HttpAuthGuard)
export class MeController {
  @Get()
  me(@CurrentIdentity() identity: AuthIdentity) {
    return {
      userId: identity.userId,
      email: identity.email,
      tenantId: identity.tenantId,
      role: identity.role,
    };
  }
}
