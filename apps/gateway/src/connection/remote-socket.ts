import { EventEmitter } from 'node:events';
import type { AuthIdentity } from '@app/auth';

/** What a remote socket needs of the cluster bus: delivery to the client's instance. */
export interface RelayBus {
  deliver(
    member: string,
    delivery:
      | { kind: 'frame'; conn: string; frame: string; ephemeral: boolean }
      | { kind: 'close'; conn: string; code: number; reason: string },
  ): void;
}

/**
 * The owner's end of a client connected to another instance: a socket-shaped object that the ws
 * server announces like any new socket, so the client gets a normal Connection with the same
 * pipeline, guards, handlers and topics. Frames sent to it are queued on the bus for the client's
 * instance; `message` events carry the client's forwarded messages.
 */
export class RemoteSocket extends EventEmitter {
  readyState = 1;
  /** Backpressure is measured at the client's own instance, on the real socket. */
  readonly bufferedAmount = 0;

  constructor(
    private readonly bus: RelayBus,
    /** The instance (bus member) the client is connected to. */
    readonly member: string,
    /** The client's connection id on that instance (also its id here). */
    readonly connId: string,
    readonly identity: AuthIdentity,
    readonly ip: string,
    readonly protocolVersion: number,
  ) {
    super();
  }

  /** Connection.sendFrame's path for relayed sockets (keeps the ephemeral flag). */
  relayFrame(frame: string, ephemeral: boolean): void {
    if (this.readyState !== 1) return;
    this.bus.deliver(this.member, { kind: 'frame', conn: this.connId, frame, ephemeral });
  }

  send(data: string | Buffer): void {
    this.relayFrame(typeof data === 'string' ? data : data.toString('utf8'), false);
  }

  /** Closed here (role revoked, slow consumer, shutdown, tenant moved): the client's socket closes too. */
  close(code = 1000, reason = ''): void {
    if (this.readyState !== 1) return;
    this.readyState = 3;
    this.bus.deliver(this.member, { kind: 'close', conn: this.connId, code, reason });
    setImmediate(() => this.emit('close', code, reason));
  }

  terminate(): void {
    this.close(1006, 'terminated');
  }

  /** Closed on the client's side: only the local clean-up runs. */
  remoteClosed(): void {
    if (this.readyState !== 1) return;
    this.readyState = 3;
    this.emit('close', 1000, '');
  }

  /** Liveness is the client instance's concern (and the bus's presence keys): answer at once. */
  ping(): void {
    this.emit('pong');
  }
}

export function isRemoteSocket(socket: unknown): socket is RemoteSocket {
  return socket instanceof RemoteSocket;
}
