import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { LoggerModule } from 'nestjs-pino';
import type { AllConfig } from '../config';
import { pinoOptions } from './pino-options';

/** Structured JSON logs in production, readable logs in dev mode (nestjs-pino). */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [ConfigService],
      useFactory: (config: ConfigService<AllConfig, true>) => {
        const app = config.get('app', { infer: true });
        return { pinoHttp: pinoOptions(app.logLevel, app.devMode), forRoutes: [], exclude: [] };
      },
    }),
  ],
})
export class LoggingModule {}
