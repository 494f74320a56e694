import { Module } from '@nestjs/common';
import { ConnectionModule } from '../connection/connection.module';
import { EventsModule } from '../events/events.module';
import { HealthModule } from '../health/health.module';
import { LifecycleModule } from '../lifecycle/lifecycle.module';
import { SessionInteractionGateway } from './session-interaction.gateway';
import { SessionInteraction } from './session-interaction.service';
import { SessionRuntime } from './session-runtime.service';
import { SessionsGateway } from './sessions.gateway';
import { SessionsService } from './sessions.service';
import { TenantOwnership } from './tenant-ownership.service';

@Module({
  imports: [ConnectionModule, EventsModule, LifecycleModule, HealthModule],
  providers: [
    SessionsService,
    SessionsGateway,
    SessionRuntime,
    SessionInteraction,
    SessionInteractionGateway,
    TenantOwnership,
  ],
  exports: [SessionsService, SessionRuntime],
})
export class SessionsModule {}
