import { resolve } from 'node:path';
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

/** From dist/apps/gateway/apps/gateway/src/console (the compiled module) to dist/console. */
export const CONSOLE_BUILD_DIR = resolve(__dirname, '../../../../../../console');

export function buildConsoleConfig(env: NodeJS.ProcessEnv): ConsoleConfig {
  const v = validateEnv(ConsoleEnv, env);
  return { enabled: v.CONSOLE_ENABLED ?? isDevMode(env), rootPath: CONSOLE_BUILD_DIR };
}

export const consoleConfig = registerAs('console', () => buildConsoleConfig(process.env));
