import { Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { CurrentIdentity, RequirePermission, type AuthIdentity } from '@app/auth';
import { AdminController } from '../common/admin-controller.decorator';
import { UsageQueryDto, UsageReportDto } from './usage.dto';
import { UsageService } from './usage.service';

const DEFAULT_USAGE_PAGE = 100;

/** Token usage and cost per turn, from each session's database. */
@AdminController('usage', 'usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @RequirePermission('billing:read')
  @ApiOperation({ summary: 'Usage per turn across the tenant’s sessions, or of one session (billing:read)' })
  @ApiOkResponse({ type: UsageReportDto })
  report(@CurrentIdentity() identity: AuthIdentity, @Query() query: UsageQueryDto): Promise<UsageReportDto> {
    return this.usage.report(identity.tenantId, {
      sessionId: query.sessionId,
      limit: query.limit ?? DEFAULT_USAGE_PAGE,
      before: query.before,
    });
  }
}
