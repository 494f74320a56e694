import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsEmail, IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { ROLES, type Role } from '@app/protocol';

export class AddMemberDto {
  @ApiProperty({ example: 'auth0|user-123', maxLength: 256 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(256)
  userId!: string;

  @ApiPropertyOptional({ example: 'user@example.com', maxLength: 320 })
  @IsOptional()
  @IsEmail()
  @MaxLength(320)
  email?: string;

  @ApiPropertyOptional({ enum: ROLES, default: 'member', description: 'Not above the caller’s own role' })
  @IsOptional()
  @IsIn(ROLES)
  role?: Role;
}

export class UpdateMemberDto {
  @ApiProperty({
    enum: ROLES,
    description: 'Not above the caller’s own role; the last owner cannot be demoted',
  })
  @IsIn(ROLES)
  role!: Role;
}

export class MemberDto {
  @ApiProperty() userId!: string;
  @ApiPropertyOptional() email?: string;
  @ApiProperty({ enum: ROLES }) role!: string;
  @ApiProperty({ description: 'Unix ms' }) createdAt!: number;
  @ApiProperty({ description: 'Unix ms' }) updatedAt!: number;
}

export class MemberListDto {
  @ApiProperty({ type: [MemberDto] }) members!: MemberDto[];
}

export class MemberAnswerDto {
  @ApiProperty({ type: MemberDto }) member!: MemberDto;
}
