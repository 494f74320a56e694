import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { asTenantId } from '@app/common';
import { ExtensionTable } from './extension-table';
import { TenantRegistry } from './tenant-registry.service';

let dataDir: string;
let registry: TenantRegistry;

beforeAll(() => {
  Logger.overrideLogger(false);
  dataDir = mkdtempSync(join(tmpdir(), 'ext-table-'));
  registry = new TenantRegistry({
    dataDir,
    writeBatchMs: 50,
    writeBatchSize: 100,
    registryCache: 4,
    sessionCache: 2,
  });
});

afterAll(async () => {
  await registry.closeAll();
  rmSync(dataDir, { recursive: true, force: true });
});

const spec = {
  name: 'notes',
  migrate: ['CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)'],
};

describe('ExtensionTable', () => {
  it('creates its table in each tenant registry before the first use, and keeps tenants apart', async () => {
    const table = new ExtensionTable(registry, spec);
    const a = asTenantId('ext-a');
    const b = asTenantId('ext-b');
    await Promise.all([table.insert(a, { body: 'one' }), table.insert(a, { body: 'two' })]);
    await table.insert(b, { body: 'other' });
    expect(await table.query(a, 'SELECT body FROM notes ORDER BY id')).toEqual([
      { body: 'one' },
      { body: 'two' },
    ]);
    expect(await table.query(b, 'SELECT body FROM notes WHERE body = ?', ['other'])).toEqual([
      { body: 'other' },
    ]);
  });

  it('migrates again harmlessly in a new process (a new instance over the same files)', async () => {
    const a = asTenantId('ext-a');
    const again = new ExtensionTable(registry, spec);
    await again.insert(a, { body: 'three' });
    expect((await again.query<{ n: number }>(a, 'SELECT COUNT(*) AS n FROM notes'))[0].n).toBe(3);
  });

  it('refuses names that are not plain identifiers', async () => {
    expect(() => new ExtensionTable(registry, { name: 'x; DROP TABLE members', migrate: [] })).toThrow(
      /invalid table name/,
    );
    const table = new ExtensionTable(registry, spec);
    await expect(table.insert(asTenantId('ext-a'), { 'body"': 'x' })).rejects.toThrow(/invalid column/);
  });
});
