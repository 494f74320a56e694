import type { Options } from 'pino-http';
import type { LogLevel } from '../config';

const PINO_LEVEL: Record<LogLevel, string> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
};

/** Paths that may carry credentials: never written to the log. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["sec-websocket-protocol"]',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'apiKey',
  '*.apiKey',
  'key',
  '*.secret',
];

/**
 * JSON lines with `level` (upper case), `message` and an ISO `timestamp` in production; pino-pretty in
 * dev mode. HTTP requests are not logged one by one (the probes would drown everything else).
 */
export function pinoOptions(level: LogLevel, devMode: boolean): Options {
  return {
    level: PINO_LEVEL[level],
    autoLogging: false,
    quietReqLogger: true,
    messageKey: 'message',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
    ...(devMode
      ? {
          transport: {
            target: 'pino-pretty',
            options: {
              singleLine: true,
              translateTime: 'HH:MM:ss.l',
              messageKey: 'message',
              ignore: 'pid,hostname',
            },
          },
        }
      : {}),
  };
}
