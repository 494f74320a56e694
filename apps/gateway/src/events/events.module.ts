import { Module } from '@nestjs/common';
import { SessionStates } from '../sessions/session-states.service';
import { TurnFinisher } from '../turns/turn-finisher.service';
import { EventPipeline } from './event-pipeline';
import { EventPublisher } from './event-publisher';
import { InteractiveHandler } from './handlers/interactive.handler';
import { MessageStreamHandler } from './handlers/message-stream.handler';
import { TerminalSandboxHandler } from './handlers/terminal-sandbox.handler';
import { ThinkingHandler } from './handlers/thinking.handler';
import { ToolHandler } from './handlers/tool.handler';
import { TurnLifecycleHandler } from './handlers/turn-lifecycle.handler';
import { UsageHandler } from './handlers/usage.handler';

/** The event pipeline: mapper → handlers → publisher (seq, persistence, broadcast). */
@Module({
  providers: [
    EventPublisher,
    EventPipeline,
    SessionStates,
    TurnFinisher,
    TurnLifecycleHandler,
    MessageStreamHandler,
    ToolHandler,
    InteractiveHandler,
    ThinkingHandler,
    TerminalSandboxHandler,
    UsageHandler,
  ],
  exports: [EventPublisher, EventPipeline, SessionStates, TurnFinisher],
})
export class EventsModule {}
