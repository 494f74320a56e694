import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class ValidationDetailDto {
  @ApiProperty({ example: 'amount' }) field!: string;
  @ApiProperty({ type: [String], example: ['amount must be a positive number'] }) messages!: string[];
}

/** The body of every non-2xx answer (admin-api.md "Errors"). */
export class ErrorBodyDto {
  @ApiProperty({ example: 403 }) statusCode!: number;
  @ApiProperty({ example: 'FORBIDDEN', description: 'Stable machine code (SCREAMING_SNAKE)' }) code!: string;
  @ApiProperty({ example: 'Your role does not allow this action' }) message!: string;
  @ApiPropertyOptional({ type: [ValidationDetailDto], description: 'Only with VALIDATION_FAILED' })
  details?: ValidationDetailDto[];
}
