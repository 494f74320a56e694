import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { SAFE_ID } from '@app/common';

export class UsageQueryDto {
  @ApiPropertyOptional({
    description: 'Only this session (404 SESSION_NOT_FOUND if the tenant has no such session)',
  })
  @IsOptional()
  @IsString()
  @Matches(SAFE_ID, { message: 'sessionId must be a session id' })
  sessionId?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 500, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'A previous `nextBefore`, or a unix-ms time (turns recorded earlier)' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,1024}$/, { message: 'before must be a cursor or a unix-ms time' })
  before?: string;
}

export class TurnUsageDto {
  @ApiProperty() sessionId!: string;
  @ApiProperty() turnId!: string;
  @ApiProperty({ nullable: true, type: String, example: 'sim-coder-1' }) model!: string | null;
  @ApiProperty() inputTokens!: number;
  @ApiProperty() outputTokens!: number;
  @ApiProperty() cacheReadTokens!: number;
  @ApiProperty() cacheWriteTokens!: number;
  @ApiProperty({ description: 'Micro-credits, as sent in the turn’s usage_update' }) cost!: number;
  @ApiProperty({ description: 'Unix ms' }) createdAt!: number;
}

export class UsageTotalsDto {
  @ApiProperty() inputTokens!: number;
  @ApiProperty() outputTokens!: number;
  @ApiProperty({ description: 'Micro-credits' }) cost!: number;
}

export class UsageReportDto {
  @ApiProperty({ type: [TurnUsageDto], description: 'Newest first' }) turns!: TurnUsageDto[];
  @ApiProperty({ type: UsageTotalsDto, description: 'Over every matching turn, not only this page' })
  totals!: UsageTotalsDto;
  @ApiPropertyOptional({ description: 'Pass as `before` for the next page; absent on the last page' })
  nextBefore?: string;
}
