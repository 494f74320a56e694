import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { SessionsGateway } from './sessions.gateway';
import { SessionsService } from './sessions.service';

@Module({
  imports: [ConnectionModule],
  providers: [SessionsService, SessionsGateway],
  exports: [SessionsService],
})
export class SessionsModule {}
