import { Global, Module } from '@nestjs/common';
import { ConnectionRegistry } from './connection/connection-registry';
import { WsServerRef } from './connection/ws-server-ref';
import { Broadcaster } from './connection/broadcaster';
import { InProcessBroadcaster } from './connection/in-process-broadcaster';
import { LifecycleState } from './connection/lifecycle.state';
import { GatewayEvents } from './connection/gateway-events';

/** Process-wide state every feature module shares: connections, topics, in-process events, lifecycle. */
@Global()
@Module({
  providers: [
    ConnectionRegistry,
    LifecycleState,
    GatewayEvents,
    WsServerRef,
    { provide: Broadcaster, useClass: InProcessBroadcaster },
  ],
  exports: [ConnectionRegistry, LifecycleState, GatewayEvents, Broadcaster, WsServerRef],
})
export class CoreModule {}
