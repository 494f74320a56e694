import { Module } from '@nestjs/common';
import { LiveModule } from '../live/live.module';
import { SessionsModule } from '../sessions/sessions.module';
import { FilesGateway } from './files.gateway';
import { FilesService } from './files.service';

@Module({
  imports: [SessionsModule, LiveModule],
  providers: [FilesService, FilesGateway],
})
export class FilesModule {}
