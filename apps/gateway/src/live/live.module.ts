import { Module } from '@nestjs/common';
import { HealthModule } from '../health/health.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { Activation } from './activation.service';
import { AgentLink } from './agent-link';
import { EVENT_HANDLERS, EventPipeline } from './event-pipeline';
import { EventPublisher } from './event-publisher';
import { InteractiveHandler } from './handlers/interactive.handler';
import { MessageStreamHandler } from './handlers/message-stream.handler';
import { TerminalSandboxHandler } from './handlers/terminal-sandbox.handler';
import { ThinkingHandler } from './handlers/thinking.handler';
import { ToolHandler } from './handlers/tool.handler';
import { TurnLifecycleHandler } from './handlers/turn-lifecycle.handler';
import { UsageHandler } from './handlers/usage.handler';
import { LiveLifecycle } from './live-lifecycle';
import { LiveSessions } from './live-sessions';
import { Reaper } from './reaper.service';
import { Recovery } from './recovery.service';
import { SessionStates } from './session-states.service';
import { Teardown } from './teardown.service';
import { TurnFinisher } from './turn-finisher.service';
import { TurnWatchdog } from './turn-watchdog';

const HANDLERS = [
  TurnLifecycleHandler,
  MessageStreamHandler,
  ToolHandler,
  InteractiveHandler,
  ThinkingHandler,
  TerminalSandboxHandler,
  UsageHandler,
];

/**
 * The live session: the sessions running here (`LiveSessions`), each phase its own class — `Activation`,
 * `AgentLink` (the agent's event stream), `EventPipeline` and its handlers, `EventPublisher` (seq,
 * persistence, fan-out), `SessionStates`, `TurnWatchdog` (stalls), `TurnFinisher`, `Teardown` (the one
 * agent teardown behind failure, deactivation and abandonment), `Reaper` (idle sessions, heartbeats),
 * `Recovery` (stale sessions) — and what they contribute to shutdown and health (`LiveLifecycle`).
 */
@Module({
  imports: [LifecycleModule, HealthModule],
  providers: [
    LiveSessions,
    Activation,
    AgentLink,
    EventPipeline,
    EventPublisher,
    ...HANDLERS,
    { provide: EVENT_HANDLERS, useFactory: (...handlers: unknown[]) => handlers, inject: HANDLERS },
    SessionStates,
    TurnWatchdog,
    TurnFinisher,
    Teardown,
    Reaper,
    Recovery,
    LiveLifecycle,
  ],
  exports: [
    LiveSessions,
    Activation,
    EventPublisher,
    SessionStates,
    TurnWatchdog,
    TurnFinisher,
    Teardown,
    Recovery,
  ],
})
export class LiveModule {}
