import pino, { type DestinationStream, type LoggerOptions } from 'pino';
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
 *
 * One pino logger serves both nestjs-pino's `PinoLogger` and its HTTP middleware (given as `logger`), and
 * dev mode formats in this thread (pino-pretty as a stream, written synchronously) rather than in a
 * transport worker: no thread to start, and nothing left to flush when the process exits.
 */
export function pinoOptions(level: LogLevel, devMode: boolean): Options {
  const options: LoggerOptions = {
    level: PINO_LEVEL[level],
    messageKey: 'message',
    base: undefined,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
  };
  return {
    logger: devMode ? pino(options, prettyStream()) : pino(options),
    autoLogging: false,
    quietReqLogger: true,
  };
}

/** pino-pretty, loaded only in dev mode. */
function prettyStream(): DestinationStream {
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    singleLine: true,
    translateTime: 'HH:MM:ss.l',
    messageKey: 'message',
    ignore: 'pid,hostname',
    sync: true,
  });
}
