import { Global, Module } from '@nestjs/common';
import { ConnectionRegistry } from './connection/connection-registry';
import { WsServerRef } from './connection/ws-server-ref';
import { Broadcaster } from './events/broadcaster';
import { InProcessBroadcaster } from './events/in-process-broadcaster';
import { LifecycleState } from './lifecycle/lifecycle.state';
import { SessionHooks } from './sessions/session-hooks';

/** Process-wide state every feature module shares: connections, topics, lifecycle. */
@Global()
@Module({
  providers: [
    ConnectionRegistry,
    LifecycleState,
    SessionHooks,
    WsServerRef,
    { provide: Broadcaster, useClass: InProcessBroadcaster },
  ],
  exports: [ConnectionRegistry, LifecycleState, SessionHooks, Broadcaster, WsServerRef],
})
export class CoreModule {}
