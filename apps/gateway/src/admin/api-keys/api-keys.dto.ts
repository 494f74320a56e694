import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { ROLES, type Role } from '@app/protocol';

export class CreateApiKeyDto {
  @ApiProperty({ enum: ROLES, description: 'Not above the caller’s own role' })
  @IsIn(ROLES)
  role!: Role;

  @ApiPropertyOptional({ maxLength: 200, example: 'CI pipeline' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  label?: string;
}

export class CreatedApiKeyDto {
  @ApiProperty() id!: string;
  @ApiProperty({
    example: 'dim_acme_3f9c…',
    description: 'The key itself, `dim_<tenantId>_<secret>`. Shown this once; only its hash is stored.',
  })
  key!: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiPropertyOptional() label?: string;
  @ApiProperty({ description: 'Unix ms' }) createdAt!: number;
}

export class ApiKeyDto {
  @ApiProperty() id!: string;
  @ApiPropertyOptional() label?: string;
  @ApiProperty({ enum: ROLES }) role!: Role;
  @ApiProperty({ description: 'userId of whoever created the key' }) createdBy!: string;
  @ApiProperty({ description: 'Unix ms' }) createdAt!: number;
  @ApiPropertyOptional({ description: 'Unix ms; updated at most once a minute' }) lastUsedAt?: number;
  @ApiPropertyOptional({ description: 'Unix ms; a revoked key fails authentication' }) revokedAt?: number;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] }) keys!: ApiKeyDto[];
}
