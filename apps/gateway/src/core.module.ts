import { Global, Module } from '@nestjs/common';
import { ConnectionRegistry } from './connection/connection-registry';
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
    { provide: Broadcaster, useClass: InProcessBroadcaster },
  ],
  exports: [ConnectionRegistry, LifecycleState, SessionHooks, Broadcaster],
})
export class CoreModule {}
