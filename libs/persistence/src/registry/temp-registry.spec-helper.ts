import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { TenantRegistry } from './tenant-registry.service';

/**
 * For specs: a TenantRegistry over a fresh temporary DATA_DIR, opened before the file's tests and
 * closed and removed after them. `repository` builds what the spec exercises on top of it.
 */
export function useTempRegistry<R>(
  prefix: string,
  repository: (registry: TenantRegistry) => R,
): { readonly registry: TenantRegistry; readonly repo: R } {
  const state = {} as { registry: TenantRegistry; repo: R; dataDir: string };
  beforeAll(() => {
    Logger.overrideLogger(false);
    state.dataDir = mkdtempSync(join(tmpdir(), prefix));
    state.registry = new TenantRegistry({
      dataDir: state.dataDir,
      writeBatchMs: 50,
      writeBatchSize: 100,
      registryCache: 4,
      sessionCache: 2,
    });
    state.repo = repository(state.registry);
  });
  afterAll(async () => {
    await state.registry.closeAll();
    rmSync(state.dataDir, { recursive: true, force: true });
  });
  return state;
}
