/** @diminuendo/client — the Node entry: the same SDK, with `ws` (an optional peer) as the default WebSocket. */
import WebSocket from 'ws';
import { Diminuendo as BaseClient, type DiminuendoOptions, type WebSocketConstructor } from './client';

export * from './index';

/** The SDK client; in Node it defaults to the `ws` package's WebSocket. */
export class Diminuendo extends BaseClient {
  constructor(options: DiminuendoOptions) {
    super({ WebSocket: WebSocket as unknown as WebSocketConstructor, ...options });
  }
}
