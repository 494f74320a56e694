import { Injectable, Logger } from '@nestjs/common';
import { mapPodiumEvent } from '@app/podium';
import type { SessionEventType } from '@app/protocol';
import type { ActiveSession } from '../sessions/active-session';
import { EventPublisher } from './event-publisher';
import type { EventHandler } from './handlers/handler';
import { InteractiveHandler } from './handlers/interactive.handler';
import { MessageStreamHandler } from './handlers/message-stream.handler';
import { TerminalSandboxHandler } from './handlers/terminal-sandbox.handler';
import { ThinkingHandler } from './handlers/thinking.handler';
import { ToolHandler } from './handlers/tool.handler';
import { TurnLifecycleHandler } from './handlers/turn-lifecycle.handler';
import { UsageHandler } from './handlers/usage.handler';

/**
 * Upstream agent frame → mapper (0..n events) → the handler for each event's type → publisher.
 * Handlers run synchronously per session in arrival order; a handler failure is logged and does not
 * stop the stream.
 */
@Injectable()
export class EventPipeline {
  private readonly logger = new Logger(EventPipeline.name);
  private readonly byType = new Map<SessionEventType, EventHandler>();
  /** Called for every upstream frame of a session (stall detection, activity). */
  onActivity?: (active: ActiveSession) => void;

  constructor(
    private readonly publisher: EventPublisher,
    turn: TurnLifecycleHandler,
    stream: MessageStreamHandler,
    tool: ToolHandler,
    interactive: InteractiveHandler,
    thinking: ThinkingHandler,
    terminal: TerminalSandboxHandler,
    usage: UsageHandler,
  ) {
    for (const h of [turn, stream, tool, interactive, thinking, terminal, usage]) {
      for (const t of h.types) this.byType.set(t, h);
    }
  }

  ingest(active: ActiveSession, frame: unknown): void {
    active.lastActivityAt = Date.now();
    this.onActivity?.(active);
    const mapped = mapPodiumEvent({ sessionId: active.sessionId, turnId: active.turn?.id ?? null }, frame);
    for (const m of mapped) {
      const handler = this.byType.get(m.event.type);
      if (!handler) {
        this.logger.debug(`no handler for ${m.event.type}; dropped`);
        continue;
      }
      try {
        handler.handle({
          active,
          event: m.event,
          mapped: m,
          publish: (e) => this.publisher.publish(active, e),
        });
      } catch (err) {
        this.logger.error(`handler for ${m.event.type} failed: ${(err as Error).message}`);
      }
    }
  }
}
