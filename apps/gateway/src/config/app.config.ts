import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUrl, Max, Min } from 'class-validator';
import { ConfigValidationError, isDevMode, parseBool, validateEnv } from '@app/common';

const LOG_LEVELS = ['trace', 'debug', 'info', 'warning', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const url = { require_tld: false, require_protocol: true, protocols: ['http', 'https'] };

/** The gateway's own variables (operations.md §2.2, §2.5). */
export class AppEnv {
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT: number = 8080;
  /**
   * Bind address. `HOST` wins over `HOSTNAME` (container runtimes set HOSTNAME to the container name).
   * Dev mode binds 127.0.0.1 unless HOST is set; HOSTNAME is not read there.
   */
  @IsOptional()
  @IsString()
  HOSTNAME?: string;
  @IsOptional()
  @IsString()
  HOST?: string;
  /** Only `development` turns dev mode on; unset means production rules. */
  @IsString()
  NODE_ENV: string = 'production';
  @Transform(parseBool)
  @IsBoolean()
  DEV_MODE: boolean = false;
  @IsIn(LOG_LEVELS)
  LOG_LEVEL: LogLevel = 'info';

  @IsInt()
  @Min(1024)
  WS_MAX_MESSAGE_BYTES: number = 1024 * 1024;
  @IsInt()
  @Min(1)
  WS_RATE_LIMIT_MAX: number = 60;
  @IsInt()
  @Min(100)
  WS_RATE_LIMIT_WINDOW_MS: number = 10_000;
  @IsInt()
  @Min(1000)
  HEARTBEAT_INTERVAL_MS: number = 30_000;
  @IsInt()
  @Min(100)
  AUTH_TIMEOUT_MS: number = 30_000;
  @IsInt()
  @Min(1024)
  WS_BACKPRESSURE_SKIP_BYTES: number = 1024 * 1024;
  @IsInt()
  @Min(1024)
  WS_BACKPRESSURE_CLOSE_BYTES: number = 8 * 1024 * 1024;
  /** A socket congested (above the skip threshold) for this long is closed: it stopped reading. */
  @IsInt()
  @Min(100)
  WS_BACKPRESSURE_STALL_MS: number = 4000;
  @IsInt()
  @Min(50)
  @Max(5000)
  ERROR_MESSAGE_MAX_CHARS: number = 500;
  @IsInt()
  @Min(1000)
  SHUTDOWN_TIMEOUT_MS: number = 10_000;
  @IsInt()
  @Min(0)
  SHUTDOWN_DRAIN_MS: number = 500;
  @Transform(parseBool)
  @IsBoolean()
  METRICS_ENABLED: boolean = true;
  /** Serve /metrics on its own listener (same bind address) instead of the main port; 0 = any free port. */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(65535)
  METRICS_PORT?: number;
  /** `/api/docs*`. Unset: on in dev mode, off in production. */
  @IsOptional()
  @Transform(parseBool)
  @IsBoolean()
  OPENAPI_ENABLED?: boolean;

  /** Joining an inactive session starts its agent (false: the first turn or file request does). */
  @Transform(parseBool)
  @IsBoolean()
  ACTIVATE_ON_JOIN: boolean = true;
  @IsInt()
  @Min(100)
  ACTIVATION_TIMEOUT_MS: number = 60_000;
  @IsInt()
  @Min(1000)
  SESSION_IDLE_TIMEOUT_MS: number = 900_000;
  @IsInt()
  @Min(1000)
  SESSION_WAITING_TIMEOUT_MS: number = 3_600_000;
  @IsInt()
  @Min(100)
  SESSION_REAPER_INTERVAL_MS: number = 60_000;
  /** After stop_turn, how long to wait for the agent to end the turn before closing it ourselves. */
  @IsInt()
  @Min(100)
  STOP_TURN_GRACE_MS: number = 10_000;
  /** A running turn with no upstream event for this long ends in turn_error (stalled agent). */
  @IsInt()
  @Min(100)
  TURN_STALL_TIMEOUT_MS: number = 120_000;
  /** seq values reserved ahead in the registry, so none is ever reused after a crash. */
  @IsInt()
  @Min(1)
  SEQ_RESERVE_BLOCK: number = 1000;
  /** Live agents (activating to deactivating) per tenant; a request that would start one more is refused. 0 = no cap. */
  @IsInt()
  @Min(0)
  MAX_ACTIVE_SESSIONS_PER_TENANT: number = 50;
  /** Live frames held for a joiner while its snapshot and replay are sent; past this the joiner is closed (1013). */
  @IsInt()
  @Min(1024)
  JOIN_HOLD_MAX_BYTES: number = 4 * 1024 * 1024;

  // Accepted for parity with the reference; not used by this gateway.
  @IsUrl(url)
  ENSEMBLE_URL: string = 'http://localhost:5180';
  @IsString()
  ENSEMBLE_API_KEY: string = '';
  @IsString()
  E2B_API_KEY: string = '';
  @IsString()
  E2B_DOMAIN: string = 'e2b-dev.igent.dev';
  @IsString()
  PODIUM_ADMIN_API_KEY: string = '';
  @IsString()
  PODIUM_SECRETS_KEY: string = '';
  @IsOptional()
  @IsUrl(url)
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  @IsString()
  OTEL_SERVICE_NAME: string = 'diminuendo-gateway';
}

export interface AppConfig {
  port: number;
  host: string;
  nodeEnv: string;
  devMode: boolean;
  logLevel: LogLevel;
  ws: {
    maxMessageBytes: number;
    /** Frames above this close the socket (1009) instead of getting MESSAGE_TOO_LARGE. */
    hardMaxPayload: number;
    rateLimitMax: number;
    rateLimitWindowMs: number;
    heartbeatIntervalMs: number;
    authTimeoutMs: number;
    backpressureSkipBytes: number;
    backpressureCloseBytes: number;
    backpressureStallMs: number;
  };
  sessions: {
    activateOnJoin: boolean;
    activationTimeoutMs: number;
    idleTimeoutMs: number;
    waitingTimeoutMs: number;
    reaperIntervalMs: number;
    stopTurnGraceMs: number;
    turnStallTimeoutMs: number;
    seqReserveBlock: number;
    maxActivePerTenant: number;
    joinHoldMaxBytes: number;
  };
  errorMessageMaxChars: number;
  shutdownTimeoutMs: number;
  shutdownDrainMs: number;
  metricsEnabled: boolean;
  /** Port of the separate /metrics listener; undefined: /metrics is served on the main port. */
  metricsPort?: number;
  openApiEnabled: boolean;
  secretsSet: Record<string, boolean>;
  unused: Record<string, string | undefined>;
  /** OpenTelemetry traces: on only when an OTLP endpoint is configured. */
  tracing: { endpoint?: string; serviceName: string };
}

export function buildAppConfig(env: NodeJS.ProcessEnv): AppConfig {
  const v = validateEnv(AppEnv, env);
  const devMode = isDevMode(env);
  if (v.METRICS_PORT !== undefined && v.METRICS_PORT !== 0 && v.METRICS_PORT === v.PORT) {
    throw new ConfigValidationError([
      `METRICS_PORT: must differ from PORT (both ${v.PORT}); leave it unset to serve /metrics on PORT`,
    ]);
  }
  return {
    port: v.PORT,
    // Dev mode never publishes itself by accident: loopback unless HOST says otherwise.
    host: v.HOST ?? (devMode ? '127.0.0.1' : (v.HOSTNAME ?? '0.0.0.0')),
    nodeEnv: v.NODE_ENV,
    devMode,
    logLevel: v.LOG_LEVEL,
    ws: {
      maxMessageBytes: v.WS_MAX_MESSAGE_BYTES,
      hardMaxPayload: Math.max(4 * v.WS_MAX_MESSAGE_BYTES, 4 * 1024 * 1024),
      rateLimitMax: v.WS_RATE_LIMIT_MAX,
      rateLimitWindowMs: v.WS_RATE_LIMIT_WINDOW_MS,
      heartbeatIntervalMs: v.HEARTBEAT_INTERVAL_MS,
      authTimeoutMs: v.AUTH_TIMEOUT_MS,
      backpressureSkipBytes: v.WS_BACKPRESSURE_SKIP_BYTES,
      backpressureCloseBytes: v.WS_BACKPRESSURE_CLOSE_BYTES,
      backpressureStallMs: v.WS_BACKPRESSURE_STALL_MS,
    },
    sessions: {
      activateOnJoin: v.ACTIVATE_ON_JOIN,
      activationTimeoutMs: v.ACTIVATION_TIMEOUT_MS,
      idleTimeoutMs: v.SESSION_IDLE_TIMEOUT_MS,
      waitingTimeoutMs: v.SESSION_WAITING_TIMEOUT_MS,
      reaperIntervalMs: v.SESSION_REAPER_INTERVAL_MS,
      stopTurnGraceMs: v.STOP_TURN_GRACE_MS,
      turnStallTimeoutMs: v.TURN_STALL_TIMEOUT_MS,
      seqReserveBlock: v.SEQ_RESERVE_BLOCK,
      maxActivePerTenant: v.MAX_ACTIVE_SESSIONS_PER_TENANT,
      joinHoldMaxBytes: v.JOIN_HOLD_MAX_BYTES,
    },
    errorMessageMaxChars: v.ERROR_MESSAGE_MAX_CHARS,
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS,
    shutdownDrainMs: v.SHUTDOWN_DRAIN_MS,
    metricsEnabled: v.METRICS_ENABLED,
    metricsPort: v.METRICS_PORT,
    openApiEnabled: v.OPENAPI_ENABLED ?? devMode,
    secretsSet: {
      ENSEMBLE_API_KEY: v.ENSEMBLE_API_KEY !== '',
      E2B_API_KEY: v.E2B_API_KEY !== '',
      PODIUM_ADMIN_API_KEY: v.PODIUM_ADMIN_API_KEY !== '',
      PODIUM_SECRETS_KEY: v.PODIUM_SECRETS_KEY !== '',
    },
    unused: {
      ensembleUrl: v.ENSEMBLE_URL,
      e2bDomain: v.E2B_DOMAIN,
    },
    tracing: { endpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: v.OTEL_SERVICE_NAME },
  };
}

export const appConfig = registerAs('app', () => buildAppConfig(process.env));
