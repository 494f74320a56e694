import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { AllConfig, AppConfig } from '../config';
import { Broadcaster, sessionTopic } from '../connection/broadcaster';
import { LiveSessions } from './live-sessions';
import { Teardown } from './teardown.service';

/**
 * The periodic side of live sessions: unwatched sessions idle (or waiting, or failed) past their
 * timeout are deactivated; every watched session topic gets a `heartbeat`.
 */
@Injectable()
export class Reaper implements OnModuleInit, OnModuleDestroy {
  private readonly cfg: AppConfig;
  private reaper?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;

  constructor(
    config: ConfigService<AllConfig, true>,
    private readonly live: LiveSessions,
    private readonly teardown: Teardown,
    private readonly broadcaster: Broadcaster,
  ) {
    this.cfg = config.get('app', { infer: true });
  }

  onModuleInit(): void {
    this.reaper = setInterval(() => this.reap(), this.cfg.sessions.reaperIntervalMs).unref();
    this.heartbeat = setInterval(() => this.beat(), this.cfg.ws.heartbeatIntervalMs).unref();
  }

  onModuleDestroy(): void {
    if (this.reaper) clearInterval(this.reaper);
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  reap(now = Date.now()): void {
    const { idleTimeoutMs, waitingTimeoutMs } = this.cfg.sessions;
    for (const active of this.live.all()) {
      if (this.broadcaster.subscriberCount(sessionTopic(active.sessionId)) > 0) continue;
      const idle = active.state === 'ready' && now - active.lastActivityAt > idleTimeoutMs;
      const waitedOut = active.state === 'waiting' && now - (active.waitingSince ?? now) > waitingTimeoutMs;
      const failed = active.state === 'error' && now - active.lastActivityAt > idleTimeoutMs;
      if (idle || waitedOut || failed) void this.teardown.deactivate(active, 'idle');
    }
  }

  private beat(): void {
    const frame = JSON.stringify({ type: 'heartbeat', ts: Date.now() });
    for (const topic of this.broadcaster.topics('session:'))
      this.broadcaster.publishFrame(topic, frame, { ephemeral: true });
  }
}
