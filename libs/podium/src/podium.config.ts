import { registerAs } from '@nestjs/config';
import { validateEnv } from '@app/common';
import { Type } from 'class-transformer';
import { IsInt, IsString, IsUrl, Matches, Max, Min } from 'class-validator';

/** The Podium slice of the environment (docs/operations.md). Empty strings count as unset. */
export class PodiumEnv {
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] })
  PODIUM_URL: string = 'http://localhost:5082';

  @IsString()
  PODIUM_API_KEY: string = '';

  @IsString()
  @Matches(/^\/.*\{instanceId\}/, { message: 'must start with "/" and contain {instanceId}' })
  PODIUM_WS_PATH_TEMPLATE: string = '/api/v1/instances/{instanceId}/ws';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_CREATE_TIMEOUT_MS: number = 30000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_STOP_TIMEOUT_MS: number = 10000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_FILE_TIMEOUT_MS: number = 15000;

  /** A file read whose answer is larger is refused (FILE_TOO_LARGE), checked while the answer streams in. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  FILE_READ_MAX_BYTES: number = 8 * 1024 * 1024;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_INFO_TIMEOUT_MS: number = 5000;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(20)
  PODIUM_RECONNECT_ATTEMPTS: number = 5;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_RECONNECT_BASE_MS: number = 500;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_BREAKER_THRESHOLD: number = 5;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  PODIUM_BREAKER_COOLDOWN_MS: number = 30000;
}

/** Typed Podium configuration, as injected into `PodiumClient`. */
export interface PodiumConfig {
  /** Base URL of the Podium coordinator, e.g. `http://localhost:5082`. */
  url: string;
  /** Sent as `Authorization: Bearer …` on every HTTP request and WebSocket upgrade. */
  apiKey: string;
  /** Event-stream path; `{instanceId}` is replaced by the URL-encoded instance id. */
  wsPathTemplate: string;
  createTimeoutMs: number;
  stopTimeoutMs: number;
  fileTimeoutMs: number;
  /** Largest answer to a file read (`readFile`, `fileAtIteration`), in bytes. */
  fileReadMaxBytes: number;
  /** Instance info (`isAlive`), the health probe and the WebSocket handshake. */
  infoTimeoutMs: number;
  reconnectAttempts: number;
  reconnectBaseMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
  /**
   * Retry policy of idempotent calls. Not read from the environment; the
   * defaults (3 attempts, 200 ms × 2ⁿ, cap 5 s) apply when omitted. Tests shrink them.
   */
  retryAttempts?: number;
  retryBaseMs?: number;
  retryMaxDelayMs?: number;
}

export function toPodiumConfig(env: PodiumEnv): PodiumConfig {
  return {
    url: env.PODIUM_URL,
    apiKey: env.PODIUM_API_KEY,
    wsPathTemplate: env.PODIUM_WS_PATH_TEMPLATE,
    createTimeoutMs: env.PODIUM_CREATE_TIMEOUT_MS,
    stopTimeoutMs: env.PODIUM_STOP_TIMEOUT_MS,
    fileTimeoutMs: env.PODIUM_FILE_TIMEOUT_MS,
    fileReadMaxBytes: env.FILE_READ_MAX_BYTES,
    infoTimeoutMs: env.PODIUM_INFO_TIMEOUT_MS,
    reconnectAttempts: env.PODIUM_RECONNECT_ATTEMPTS,
    reconnectBaseMs: env.PODIUM_RECONNECT_BASE_MS,
    breakerThreshold: env.PODIUM_BREAKER_THRESHOLD,
    breakerCooldownMs: env.PODIUM_BREAKER_COOLDOWN_MS,
  };
}

/** `ConfigModule.forRoot({ load: [podiumConfig] })`; read as `config.getOrThrow('podium', { infer: true })`. */
export const podiumConfig = registerAs('podium', (): PodiumConfig =>
  toPodiumConfig(validateEnv(PodiumEnv, process.env)),
);
