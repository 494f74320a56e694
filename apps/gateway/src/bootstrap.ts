import 'reflect-metadata';
import { Module, type DynamicModule, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigService } from '@nestjs/config';
import helmet from 'helmet';
import { Logger, PinoLogger } from 'nestjs-pino';
import { setupOpenApi } from './admin/openapi';
import { AppModule } from './app.module';
import type { AllConfig } from './config';
import { configSummary } from './config/config-summary';
import { assertValidConfig } from './config/load-config';
import { ConnectionRegistry } from './connection/connection-registry';
import { FramePipeline } from './connection/frame-pipeline';
import {
  CLIENT_MESSAGE_EXTENSIONS,
  extensionMessageTable,
  type ClientMessageExtension,
} from './connection/message-extensions';
import { isClientMessageType } from '@app/protocol';
import { TOKEN_ISSUER_EXTENSIONS, type IssuerSource } from '@app/auth';
import { UPSTREAM_EVENT_EXTENSIONS, type UpstreamEventExtension } from './live/event-pipeline';
import { advertisedUrl } from './config/cluster.config';
import { TenantLeases } from './cluster/tenant-leases';
import { TenantRouter } from './connection/tenant-router';
import { GatewayWsAdapter } from './connection/gateway-ws.adapter';
import { WsServerRef } from './connection/ws-server-ref';
import { UpgradePolicy } from './connection/upgrade-policy';
import { LifecycleService } from './lifecycle/lifecycle.service';
import { LifecycleState } from './connection/lifecycle.state';
import { installLiveness } from './health/liveness';

/** What an extension adds to the gateway (docs/extending.md). */
export interface GatewayExtension {
  /** The extension's Nest module, imported beside AppModule. */
  module: Type | DynamicModule;
  /** Client message types it contributes (validated and guarded like the core ones). */
  messages?: ClientMessageExtension[];
  /** Upstream (Podium) event types it maps to session events. */
  upstreamEvents?: UpstreamEventExtension[];
  /** A provider its module exports that names token issuers to trust besides the configured ones. */
  issuers?: Type<IssuerSource>;
}

export interface BootstrapOptions {
  extensions?: GatewayExtension[];
}

@Module({})
class ExtendedAppModule {}

/** AppModule alone, or AppModule with the extensions' modules and their contributed message table. */
function rootModule(extensions: readonly GatewayExtension[]): Type | DynamicModule {
  if (extensions.length === 0) return AppModule;
  const messages = extensions.flatMap((e) => e.messages ?? []);
  const issuerSources = extensions.flatMap((e) => (e.issuers ? [e.issuers] : []));
  return {
    module: ExtendedAppModule,
    global: true,
    imports: [AppModule, ...extensions.map((e) => e.module)],
    providers: [
      { provide: CLIENT_MESSAGE_EXTENSIONS, useValue: messages },
      {
        provide: UPSTREAM_EVENT_EXTENSIONS,
        useValue: extensions.flatMap((e) => e.upstreamEvents ?? []),
      },
      {
        provide: TOKEN_ISSUER_EXTENSIONS,
        inject: issuerSources,
        useFactory: (...sources: IssuerSource[]) => sources.flatMap((s) => s.issuers()),
      },
    ],
    exports: [CLIENT_MESSAGE_EXTENSIONS, UPSTREAM_EVENT_EXTENSIONS, TOKEN_ISSUER_EXTENSIONS],
  };
}

/**
 * Validates the configuration, creates the gateway (with the given extensions) and listens. `main.ts`
 * calls it with none; an extension's own entry point passes its modules.
 */
export async function bootstrap(options: BootstrapOptions = {}): Promise<void> {
  // eslint-disable-next-line no-restricted-properties -- the one place the environment is handed to config
  const problems = assertValidConfig(process.env);
  if (problems.length > 0) {
    process.stderr.write(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
    process.exit(1);
  }

  const extensions = options.extensions ?? [];
  const messageTable = extensionMessageTable(
    extensions.flatMap((e) => e.messages ?? []),
    isClientMessageType,
  );
  const app = await NestFactory.create(rootModule(extensions), { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  const config = app.get<ConfigService<AllConfig, true>>(ConfigService);
  const appConfig = config.get('app', { infer: true });
  const log = await app.resolve(PinoLogger);
  log.setContext('Bootstrap');

  app.use(
    helmet({
      strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
      contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } },
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginResourcePolicy: { policy: 'same-site' },
    }),
  );
  installLiveness(app.getHttpServer());
  const express = app.getHttpAdapter().getInstance();
  express.set('etag', false);
  express.disable('x-powered-by');

  app.useWebSocketAdapter(
    new GatewayWsAdapter(app, {
      registry: app.get(ConnectionRegistry),
      router: app.get(TenantRouter),
      serverRef: app.get(WsServerRef),
      upgrades: app.get(UpgradePolicy),
      frames: new FramePipeline(appConfig.ws.maxMessageBytes, messageTable),
      hardMaxPayload: appConfig.ws.hardMaxPayload,
      onInternalError: (conn, err, requestId) => {
        conn.log.error({ err }, 'unhandled message failure');
        conn.sendError('INTERNAL_ERROR', 'Internal error', requestId);
      },
    }),
  );

  log.info(
    configSummary({
      app: appConfig,
      auth: config.get('auth', { infer: true }),
      persistence: config.get('persistence', { infer: true }),
      podium: config.get('podium', { infer: true }),
      billing: config.get('billing', { infer: true }),
      cluster: config.get('cluster', { infer: true }),
      shard: config.get('shard', { infer: true }),
    }),
    'configuration summary',
  );

  setupOpenApi(app, appConfig.openApiEnabled);

  // Signals run Nest's shutdown hooks through app.close(); the process then exits 0. (Nest's own
  // enableShutdownHooks re-raises the signal after closing, which would end the process with 143.)
  const lifecycle = app.get(LifecycleService);
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) {
        log.warn(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      log.info(`${signal} received: shutting down`);
      lifecycle.armGuard();
      app.close().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }

  await app.listen(appConfig.port, appConfig.host);
  app.get(LifecycleState).listening = true;
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : appConfig.port;
  app
    .get(TenantLeases)
    .advertise(advertisedUrl(config.get('cluster', { infer: true }), appConfig.host, port));
  // The warning comes first: whoever waits for the "listening" line has it already.
  if (appConfig.devMode && !isLoopback(appConfig.host)) {
    log.warn(
      `dev mode on ${appConfig.host} (HOST): anyone who reaches this address is owner of tenant dev, without authentication`,
    );
  }
  log.info(
    { port },
    `Gateway listening on ${appConfig.host}:${port}${appConfig.devMode ? ' (dev mode — auth bypassed)' : ''}`,
  );
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
