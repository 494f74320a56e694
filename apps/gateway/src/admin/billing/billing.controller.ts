import { Body, Get, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentIdentity, RequirePermission, type AuthIdentity } from '@app/auth';
import { CreditsService } from '@app/billing';
import { AdminController } from '../common/admin-controller.decorator';
import {
  AdjustmentDto,
  BalanceDto,
  GrantDto,
  LedgerPageDto,
  LedgerQueryDto,
  LedgerWriteDto,
} from './billing.dto';

const DEFAULT_LEDGER_PAGE = 50;

/** The tenant's credit balance and ledger (docs/billing.md). */
@AdminController('billing', 'billing')
export class BillingController {
  constructor(private readonly credits: CreditsService) {}

  @Get()
  @RequirePermission('billing:read')
  @ApiOperation({ summary: 'Balance, reserved and available credits (billing:read)' })
  @ApiOkResponse({ type: BalanceDto })
  balance(@CurrentIdentity() identity: AuthIdentity): Promise<BalanceDto> {
    return this.credits.balance(identity.tenantId);
  }

  @Get('ledger')
  @RequirePermission('billing:read')
  @ApiOperation({ summary: 'Ledger entries, newest first, paged by id (billing:read)' })
  @ApiOkResponse({ type: LedgerPageDto })
  ledger(@CurrentIdentity() identity: AuthIdentity, @Query() query: LedgerQueryDto): Promise<LedgerPageDto> {
    return this.credits.ledger(identity.tenantId, query.limit ?? DEFAULT_LEDGER_PAGE, query.before);
  }

  @Post('grants')
  @RequirePermission('billing:write')
  @ApiOperation({ summary: 'Add credits to the balance (billing:write)' })
  @ApiCreatedResponse({ type: LedgerWriteDto })
  grant(@CurrentIdentity() identity: AuthIdentity, @Body() body: GrantDto): Promise<LedgerWriteDto> {
    return this.credits.grant(identity.tenantId, body.amount, identity.userId, body.note);
  }

  @Post('adjustments')
  @RequirePermission('billing:write')
  @ApiOperation({ summary: 'Correct the balance by a signed amount (billing:write)' })
  @ApiCreatedResponse({ type: LedgerWriteDto })
  adjust(@CurrentIdentity() identity: AuthIdentity, @Body() body: AdjustmentDto): Promise<LedgerWriteDto> {
    return this.credits.adjust(identity.tenantId, body.amount, identity.userId, body.note);
  }
}
