/** Start-up options of the simulator, their defaults, and how they are read from the environment. */

export type LogFn = (line: string) => void;

export interface PodiumSimOptions {
  /** TCP port; 0 picks an ephemeral port. Default 5082. */
  port?: number;
  /** Interface to bind. Default 127.0.0.1. */
  host?: string;
  /** Bearer key every `/api/*` request and event socket must present. Empty string accepts anything. Default `pod_dev_key`. */
  apiKey?: string;
  /** Delay before each paced frame of a turn. 0 = no delay. Default 5. */
  tokenDelayMs?: number;
  /** Event-socket path; must contain `{instanceId}`. Default `/api/v1/instances/{instanceId}/ws`. */
  wsPathTemplate?: string;
  /** How long a running turn waits for the gateway to reconnect when no event socket is open before it keeps going and its frames are lost. Default 10000. */
  reconnectGraceMs?: number;
  /** Line logger; `false` silences the simulator. Default: console.log. */
  log?: LogFn | false;
}

export interface ResolvedSimOptions {
  port: number;
  host: string;
  apiKey: string;
  tokenDelayMs: number;
  wsPathTemplate: string;
  reconnectGraceMs: number;
  log: LogFn;
}

export const DEFAULT_OPTIONS = {
  port: 5082,
  host: '127.0.0.1',
  apiKey: 'pod_dev_key',
  tokenDelayMs: 5,
  wsPathTemplate: '/api/v1/instances/{instanceId}/ws',
  reconnectGraceMs: 10_000,
} as const;

export function resolveOptions(opts: PodiumSimOptions = {}): ResolvedSimOptions {
  const resolved: ResolvedSimOptions = {
    port: opts.port ?? DEFAULT_OPTIONS.port,
    host: opts.host ?? DEFAULT_OPTIONS.host,
    apiKey: opts.apiKey ?? DEFAULT_OPTIONS.apiKey,
    tokenDelayMs: opts.tokenDelayMs ?? DEFAULT_OPTIONS.tokenDelayMs,
    wsPathTemplate: opts.wsPathTemplate ?? DEFAULT_OPTIONS.wsPathTemplate,
    reconnectGraceMs: opts.reconnectGraceMs ?? DEFAULT_OPTIONS.reconnectGraceMs,
    log: opts.log === false ? () => undefined : (opts.log ?? defaultLog),
  };
  if (!isNonNegativeInt(resolved.port) || resolved.port > 65535)
    throw new Error(`invalid port ${resolved.port}`);
  if (!isNonNegativeInt(resolved.tokenDelayMs))
    throw new Error(`invalid tokenDelayMs ${resolved.tokenDelayMs}`);
  if (!isNonNegativeInt(resolved.reconnectGraceMs)) {
    throw new Error(`invalid reconnectGraceMs ${resolved.reconnectGraceMs}`);
  }
  if (!resolved.wsPathTemplate.startsWith('/') || !resolved.wsPathTemplate.includes('{instanceId}')) {
    throw new Error('wsPathTemplate must start with "/" and contain {instanceId}');
  }
  return resolved;
}

/** Reads the `PODIUM_SIM_*` variables. Only `main.ts` passes `process.env` here. */
export function optionsFromEnv(env: Record<string, string | undefined>): PodiumSimOptions {
  return {
    port: intVar(env, 'PODIUM_SIM_PORT'),
    host: env.PODIUM_SIM_HOST || undefined,
    apiKey: env.PODIUM_SIM_API_KEY,
    tokenDelayMs: intVar(env, 'PODIUM_SIM_TOKEN_DELAY_MS'),
    wsPathTemplate: env.PODIUM_SIM_WS_PATH_TEMPLATE || undefined,
    reconnectGraceMs: intVar(env, 'PODIUM_SIM_RECONNECT_GRACE_MS'),
  };
}

function intVar(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!isNonNegativeInt(value)) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return value;
}

export function isNonNegativeInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function defaultLog(line: string): void {
  console.log(`${new Date().toISOString()} podium-sim ${line}`);
}
