import { MessageBody, SubscribeMessage } from '@nestjs/websockets';
import { FileAtIterationMessage, FileHistoryMessage, ListFilesMessage, ReadFileMessage } from '@app/protocol';
import { Conn, type AuthedConnection } from '../connection/connection-registry';
import { ProtocolGateway } from '../connection/ws-gateway.decorator';
import { FilesService } from './files.service';

/** list_files, read_file, file_history, file_at_iteration. */
@ProtocolGateway()
export class FilesGateway {
  constructor(private readonly files: FilesService) {}

  @SubscribeMessage('list_files')
  list(@Conn() conn: AuthedConnection, @MessageBody() msg: ListFilesMessage) {
    return this.files.list(conn.identity, msg.sessionId, msg.path, msg.depth);
  }

  @SubscribeMessage('read_file')
  read(@Conn() conn: AuthedConnection, @MessageBody() msg: ReadFileMessage) {
    return this.files.read(conn.identity, msg.sessionId, msg.path);
  }

  @SubscribeMessage('file_history')
  history(@Conn() conn: AuthedConnection, @MessageBody() msg: FileHistoryMessage) {
    return this.files.history(conn.identity, msg.sessionId, msg.path);
  }

  @SubscribeMessage('file_at_iteration')
  at(@Conn() conn: AuthedConnection, @MessageBody() msg: FileAtIterationMessage) {
    return this.files.atIteration(conn.identity, msg.sessionId, msg.path, msg.iteration);
  }
}
