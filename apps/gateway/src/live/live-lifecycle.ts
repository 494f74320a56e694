import { Injectable, type OnModuleInit } from '@nestjs/common';
import { SessionStore, TenantRegistry } from '@app/persistence';
import { HealthComponents } from '../health/health-components';
import { LifecycleService } from '../lifecycle/lifecycle.service';
import { LiveSessions } from './live-sessions';
import { Teardown } from './teardown.service';

/** What live sessions contribute to shutdown (agents stopped, writes flushed, databases closed) and health. */
@Injectable()
export class LiveLifecycle implements OnModuleInit {
  constructor(
    private readonly lifecycle: LifecycleService,
    private readonly health: HealthComponents,
    private readonly live: LiveSessions,
    private readonly teardown: Teardown,
    private readonly store: SessionStore,
    private readonly registry: TenantRegistry,
  ) {}

  onModuleInit(): void {
    this.lifecycle.addShutdownStep({ name: 'stop agents', run: () => this.teardown.stopAll() });
    this.lifecycle.addShutdownStep({
      name: 'flush writer and close databases',
      run: async () => {
        await this.store.shutdown();
        await this.registry.closeAll();
      },
    });
    this.health.addFigures(() => ({
      activeSessions: this.live.size,
      sessionsByState: this.live.countByState(),
      writer: { ...this.store.writer.stats, queued: this.store.writer.queueDepth },
    }));
  }
}
