import { Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { EventEmitterModule } from '@nestjs/event-emitter';
import { AuthModule, authConfig, type AuthConfig } from '@app/auth';
import { billingConfig } from '@app/billing';
import { PersistenceModule, persistenceConfig, type PersistenceConfig } from '@app/persistence';
import { PodiumModule, podiumConfig, type PodiumConfig } from '@app/podium';
import { GatewayBillingModule } from './billing/billing.module';
import { FilesModule } from './files/files.module';
import { TurnsModule } from './turns/turns.module';
import { AdminModule } from './admin/admin.module';
import { ClusterModule } from './cluster/cluster.module';
import { clusterConfig } from './config/cluster.config';
import { shardConfig } from './config/shard.config';
import { OwnershipModule } from './cluster/ownership.module';
import { ShardModule } from './cluster/shard.module';
import { appConfig } from './config';
import { ConnectionModule } from './connection/connection.module';
import { ConsoleModule } from './console/console.module';
import { CoreModule } from './core.module';
import { HealthModule } from './health/health.module';
import { LifecycleModule } from './lifecycle/lifecycle.module';
import { LoggingModule } from './logging/logging.module';
import { MembersModule } from './members/members.module';
import { MetricsModule } from './metrics/metrics.module';
import { LiveModule } from './live/live.module';
import { SessionsModule } from './sessions/sessions.module';
import { TracingModule } from './tracing/tracing.module';

@Module({
  imports: [
    ConfigModule.forRoot({
      isGlobal: true,
      ignoreEnvFile: true,
      cache: true,
      load: [
        appConfig,
        authConfig,
        persistenceConfig,
        podiumConfig,
        billingConfig,
        clusterConfig,
        shardConfig,
      ],
    }),
    LoggingModule,
    TracingModule,
    EventEmitterModule.forRoot(),
    CoreModule,
    ClusterModule,
    ShardModule,
    PersistenceModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => config.getOrThrow<PersistenceConfig>('persistence'),
    }),
    AuthModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService) => config.getOrThrow<AuthConfig>('auth'),
    }),
    PodiumModule.forRootAsync({
      isGlobal: true,
      inject: [ConfigService],
      useFactory: (config: ConfigService) => config.getOrThrow<PodiumConfig>('podium'),
    }),
    GatewayBillingModule,
    LifecycleModule,
    ConnectionModule,
    LiveModule,
    OwnershipModule,
    SessionsModule,
    TurnsModule,
    FilesModule,
    MembersModule,
    HealthModule,
    MetricsModule,
    AdminModule,
    ConsoleModule,
  ],
})
export class AppModule {}
