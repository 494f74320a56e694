import { Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { WebSocket } from 'ws';
import {
  can,
  DomainError,
  ForbiddenError,
  permissionFor,
  PRE_AUTH_MESSAGES,
  type ClientMessage,
} from '@app/protocol';
import { ConnectionRegistry } from './connection-registry';
import { CLIENT_MESSAGE_EXTENSIONS, type ClientMessageExtension } from './message-extensions';

/**
 * Guards every WebSocket message: before authentication only `authenticate` and `ping` pass
 * (UNAUTHENTICATED); afterwards the role must hold the message's permission (FORBIDDEN).
 */
@Injectable()
export class MessageGuard implements CanActivate {
  private readonly extensions: ReadonlyMap<string, ClientMessageExtension>;

  constructor(
    private readonly registry: ConnectionRegistry,
    @Optional() @Inject(CLIENT_MESSAGE_EXTENSIONS) extensions?: ClientMessageExtension[],
  ) {
    this.extensions = new Map((extensions ?? []).map((e) => [e.type, e]));
  }

  canActivate(context: ExecutionContext): boolean {
    const ws = context.switchToWs();
    const conn = this.registry.of(ws.getClient<WebSocket>());
    const message = ws.getData<ClientMessage>();
    if (!conn) return false;
    if (!conn.identity) {
      if (PRE_AUTH_MESSAGES.has(message.type)) return true;
      throw new DomainError('UNAUTHENTICATED');
    }
    const permission = this.extensions.get(message.type)?.permission ?? permissionFor(message);
    if (permission && !can(conn.identity.role, permission)) throw new ForbiddenError();
    return true;
  }
}
