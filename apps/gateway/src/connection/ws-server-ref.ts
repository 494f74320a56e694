import { Injectable } from '@nestjs/common';
import type { WebSocketServer } from 'ws';

/** The /ws server, once the adapter has created it. */
@Injectable()
export class WsServerRef {
  server?: WebSocketServer;
}
