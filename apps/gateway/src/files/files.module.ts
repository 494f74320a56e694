import { Module } from '@nestjs/common';
import { SessionsModule } from '../sessions/sessions.module';
import { FilesGateway } from './files.gateway';
import { FilesService } from './files.service';

@Module({
  imports: [SessionsModule],
  providers: [FilesService, FilesGateway],
})
export class FilesModule {}
