import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { MembersGateway } from './members.gateway';
import { MembersService } from './members.service';

@Module({
  imports: [ConnectionModule],
  providers: [MembersService, MembersGateway],
  exports: [MembersService],
})
export class MembersModule {}
