import { Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty } from '@nestjs/swagger';
import { CurrentIdentity, type AuthIdentity } from '@app/auth';
import { ROLES } from '@app/protocol';
import { AdminController } from './common/admin-controller.decorator';

export class IdentityDto {
  @ApiProperty({ example: 'auth0|user-123', description: '`apikey:<id>` for an API key' }) userId!: string;
  @ApiProperty({ example: 'user@example.com', description: 'Empty for an API key' }) email!: string;
  @ApiProperty({ example: 'acme' }) tenantId!: string;
  @ApiProperty({ enum: ROLES }) role!: string;
}

/** Who the credential of this request speaks for. */
@AdminController('me', 'identity')
export class MeController {
  @Get()
  @ApiOperation({ summary: 'The identity of the credential (any role)' })
  @ApiOkResponse({ type: IdentityDto })
  me(@CurrentIdentity() identity: AuthIdentity): IdentityDto {
    return {
      userId: identity.userId,
      email: identity.email,
      tenantId: identity.tenantId,
      role: identity.role,
    };
  }
}
