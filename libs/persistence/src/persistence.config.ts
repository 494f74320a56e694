import { registerAs } from '@nestjs/config';
import { IsInt, IsString, Max, Min, IsNotEmpty } from 'class-validator';
import { validateEnv } from '@app/common';

export class PersistenceEnv {
  /** Root directory of every SQLite database. */
  @IsString()
  @IsNotEmpty()
  DATA_DIR: string = './data';
  /** The writer flushes this long after the first buffered command… */
  @IsInt()
  @Min(1)
  @Max(10_000)
  DB_WRITE_BATCH_MS: number = 50;
  /** …or as soon as this many commands are buffered. */
  @IsInt()
  @Min(1)
  @Max(100_000)
  DB_WRITE_BATCH_SIZE: number = 100;
  /** Open tenant registry handles kept (least recently used closed beyond). */
  @IsInt()
  @Min(1)
  DB_REGISTRY_CACHE: number = 128;
  /** Open session database handles kept (least recently used closed beyond). */
  @IsInt()
  @Min(1)
  DB_SESSION_CACHE: number = 256;
}

export interface PersistenceConfig {
  dataDir: string;
  writeBatchMs: number;
  writeBatchSize: number;
  registryCache: number;
  sessionCache: number;
}

export const persistenceConfig = registerAs('persistence', (): PersistenceConfig => {
  const env = validateEnv(PersistenceEnv, process.env);
  return {
    dataDir: env.DATA_DIR,
    writeBatchMs: env.DB_WRITE_BATCH_MS,
    writeBatchSize: env.DB_WRITE_BATCH_SIZE,
    registryCache: env.DB_REGISTRY_CACHE,
    sessionCache: env.DB_SESSION_CACHE,
  };
});
