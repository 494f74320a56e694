import { basename, dirname, join, resolve } from 'node:path';
import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';
import { isDevMode, parseBool, validateEnv } from '@app/common';

/** The web console at /console (docs/client.md). */
export class ConsoleEnv {
  /** Serve the console. Default: on in dev mode, off in production. */
  @IsOptional()
  @Transform(parseBool)
  @IsBoolean()
  CONSOLE_ENABLED?: boolean;
}

export interface ConsoleConfig {
  enabled: boolean;
  /** The console's built files (`npm run build` writes them to dist/console). */
  rootPath: string;
}

/**
 * dist/console, found from wherever under dist/ the running code is: the bundle (dist/gateway/) or the
 * compiled modules (dist/apps/gateway/…, as an extension's entry point runs them).
 */
export const CONSOLE_BUILD_DIR = join(distDir(__dirname), 'console');

function distDir(dir: string): string {
  for (let d = dir; d !== dirname(d); d = dirname(d)) if (basename(d) === 'dist') return d;
  return resolve(dir, '../../../../dist'); // the sources (apps/gateway/src/console), as the unit tests run them
}

export function buildConsoleConfig(env: NodeJS.ProcessEnv): ConsoleConfig {
  const v = validateEnv(ConsoleEnv, env);
  return { enabled: v.CONSOLE_ENABLED ?? isDevMode(env), rootPath: CONSOLE_BUILD_DIR };
}

export const consoleConfig = registerAs('console', () => buildConsoleConfig(process.env));
