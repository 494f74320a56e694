import { Module } from '@nestjs/common';
import { ConnectionGateway } from './connection.gateway';
import { ConnectionService } from './connection.service';
import { MessageGuard } from './message.guard';
import { TenantMembership } from './tenant-membership';
import { UpgradePolicy } from './upgrade-policy';
import { WsErrorFilter } from './ws-exception.filter';

@Module({
  providers: [
    ConnectionService,
    TenantMembership,
    ConnectionGateway,
    MessageGuard,
    WsErrorFilter,
    UpgradePolicy,
  ],
  exports: [ConnectionService, MessageGuard, WsErrorFilter, UpgradePolicy],
})
export class ConnectionModule {}
