import { Module } from '@nestjs/common';
import { ConnectionGateway } from './connection.gateway';
import { ConnectionService } from './connection.service';
import { MessageGuard } from './message.guard';
import { RemoteHost } from './remote-host.service';
import { UpgradePolicy } from './upgrade-policy';
import { WsErrorFilter } from './ws-exception.filter';

@Module({
  providers: [ConnectionService, ConnectionGateway, MessageGuard, WsErrorFilter, UpgradePolicy, RemoteHost],
  exports: [ConnectionService, MessageGuard, WsErrorFilter, UpgradePolicy, RemoteHost],
})
export class ConnectionModule {}
