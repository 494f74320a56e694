import { Body, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiOperation,
} from '@nestjs/swagger';
import { CurrentIdentity, RequirePermission, type AuthIdentity } from '@app/auth';
import { AdminController } from '../common/admin-controller.decorator';
import { ErrorBodyDto } from '../common/error-body.dto';
import { ApiKeyListDto, CreateApiKeyDto, CreatedApiKeyDto } from './api-keys.dto';
import { ApiKeysService } from './api-keys.service';

/** API keys for SDKs and automation (`authenticate {token: "dim_…"}` or `Authorization: Bearer dim_…`). */
@AdminController('api-keys', 'api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  @RequirePermission('tenant:admin')
  @ApiOperation({ summary: 'The tenant’s keys, revoked ones included, never their secrets (tenant:admin)' })
  @ApiOkResponse({ type: ApiKeyListDto })
  list(@CurrentIdentity() identity: AuthIdentity): Promise<ApiKeyListDto> {
    return this.keys.list(identity);
  }

  @Post()
  @RequirePermission('tenant:admin')
  @ApiOperation({ summary: 'Issue a key; the answer holds the key, shown this once (tenant:admin)' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  create(
    @CurrentIdentity() identity: AuthIdentity,
    @Body() body: CreateApiKeyDto,
  ): Promise<CreatedApiKeyDto> {
    return this.keys.create(identity, body.role, body.label);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequirePermission('tenant:admin')
  @ApiOperation({ summary: 'Revoke a key: it fails authentication from then on (tenant:admin)' })
  @ApiNoContentResponse({ description: 'Revoked (also when it already was)' })
  @ApiNotFoundResponse({ type: ErrorBodyDto, description: 'API_KEY_NOT_FOUND' })
  revoke(@CurrentIdentity() identity: AuthIdentity, @Param('id') id: string): Promise<void> {
    return this.keys.revoke(identity, id);
  }
}
