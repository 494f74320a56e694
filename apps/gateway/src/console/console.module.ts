import { Module } from '@nestjs/common';
import { ConfigModule, type ConfigType } from '@nestjs/config';
import { ServeStaticModule } from '@nestjs/serve-static';
import type { ServerResponse } from 'node:http';
import { consoleConfig } from './console.config';

/**
 * The console's pages may run their own scripts and styles and open the gateway's WebSocket (same
 * origin); everything else keeps the gateway's `default-src 'none'`.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the web console (apps/console, built into dist/console) at /console when CONSOLE_ENABLED is
 * on (default in dev mode). The console is a plain client of /ws: same origin allowlist, same
 * authentication as any other client.
 */
@Module({
  imports: [
    ServeStaticModule.forRootAsync({
      imports: [ConfigModule.forFeature(consoleConfig)],
      inject: [consoleConfig.KEY],
      useFactory: (config: ConfigType<typeof consoleConfig>) =>
        config.enabled
          ? [
              {
                rootPath: config.rootPath,
                serveRoot: '/console',
                serveStaticOptions: {
                  index: ['index.html'],
                  setHeaders: (res: ServerResponse) => res.setHeader('Content-Security-Policy', CONSOLE_CSP),
                },
              },
            ]
          : [],
    }),
  ],
})
export class ConsoleModule {}
