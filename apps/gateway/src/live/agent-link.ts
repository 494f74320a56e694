import { Injectable, Logger } from '@nestjs/common';
import type { PodiumConnection } from '@app/podium';
import type { ActiveSession } from './active-session';
import { EventPipeline } from './event-pipeline';
import { Teardown } from './teardown.service';

/** Connects a session to its agent's event stream: frames into the pipeline, a lost stream into `fail`. */
@Injectable()
export class AgentLink {
  private readonly logger = new Logger(AgentLink.name);

  constructor(
    private readonly pipeline: EventPipeline,
    private readonly teardown: Teardown,
  ) {}

  attach(active: ActiveSession, connection: PodiumConnection): void {
    active.attachConnection(connection);
    connection.on('event', (frame) => this.pipeline.ingest(active, frame));
    connection.on('reconnecting', ({ attempt }) =>
      this.logger.warn(`session ${active.sessionId}: agent stream lost, reconnecting (${attempt})`),
    );
    connection.on('reconnected', () =>
      this.logger.log(`session ${active.sessionId}: agent stream reconnected`),
    );
    connection.on('lost', ({ reason }) => {
      if (active.podium !== connection) return;
      this.teardown.fail(active, 'AGENT_UNAVAILABLE', `Lost the connection to the agent (${reason})`);
    });
  }
}
