import { applyDecorators, UseFilters, UseGuards } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import { MessageGuard } from './message.guard';
import { WsErrorFilter } from './ws-exception.filter';

/** Every protocol gateway: the `/ws` endpoint, the message guard and the error filter. */
export const ProtocolGateway = () =>
  applyDecorators(WebSocketGateway({ path: '/ws' }), UseGuards(MessageGuard), UseFilters(WsErrorFilter));
