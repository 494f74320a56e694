import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min, NotEquals } from 'class-validator';
import { LEDGER_KINDS, type LedgerKind } from '@app/persistence';

/** Largest single grant or adjustment (micro-credits); keeps every balance a safe integer. */
export const MAX_CREDIT_AMOUNT = 1_000_000_000_000_000;

export class BalanceDto {
  @ApiProperty({ example: 25_000_000, description: 'Micro-credits; may be negative after an expensive turn' })
  balance!: number;
  @ApiProperty({ example: 1_000_000, description: 'Held by open turn reservations' }) reserved!: number;
  @ApiProperty({ example: 24_000_000, description: 'balance − reserved' }) available!: number;
  @ApiProperty({ enum: ['micro-credits'] }) unit!: 'micro-credits';
  @ApiProperty({ description: 'Whether turns reserve and charge credits' }) billingEnabled!: boolean;
}

export class LedgerEntryDto {
  @ApiProperty({ example: 42 }) id!: number;
  @ApiProperty({ enum: LEDGER_KINDS }) kind!: LedgerKind;
  @ApiProperty({
    example: 1_000_000,
    description:
      'grant: credits added; reserve/release: credits held/freed; settle: cost charged; adjust: signed change of the balance',
  })
  amount!: number;
  @ApiProperty({ description: 'Balance after this entry' }) balanceAfter!: number;
  @ApiProperty({ description: 'Reserved credits after this entry' }) reservedAfter!: number;
  @ApiPropertyOptional() sessionId?: string;
  @ApiPropertyOptional() turnId?: string;
  @ApiPropertyOptional() reservationId?: string;
  @ApiPropertyOptional() actorUserId?: string;
  @ApiPropertyOptional() note?: string;
  @ApiProperty({ description: 'Unix ms' }) createdAt!: number;
}

export class LedgerPageDto {
  @ApiProperty({ type: [LedgerEntryDto], description: 'Newest first' }) entries!: LedgerEntryDto[];
  @ApiPropertyOptional({ description: 'Pass as `before` for the next page; absent on the last page' })
  nextBefore?: number;
}

export class LedgerQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 200, default: 50 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: 'Entries with a smaller id (a previous `nextBefore`)' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  before?: number;
}

export class GrantDto {
  @ApiProperty({ minimum: 1, maximum: MAX_CREDIT_AMOUNT, example: 10_000_000, description: 'Micro-credits' })
  @IsInt()
  @Min(1)
  @Max(MAX_CREDIT_AMOUNT)
  amount!: number;

  @ApiPropertyOptional({ maxLength: 500, example: 'Monthly top-up' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class AdjustmentDto {
  @ApiProperty({
    example: -250_000,
    description: 'Signed micro-credits added to (or, negative, taken from) the balance; not 0',
  })
  @IsInt()
  @NotEquals(0)
  @Min(-MAX_CREDIT_AMOUNT)
  @Max(MAX_CREDIT_AMOUNT)
  amount!: number;

  @ApiPropertyOptional({ maxLength: 500, example: 'Refund for a failed run' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  note?: string;
}

export class LedgerWriteDto {
  @ApiProperty({ type: LedgerEntryDto }) entry!: LedgerEntryDto;
  @ApiProperty({ description: 'Balance after the entry' }) balance!: number;
}
