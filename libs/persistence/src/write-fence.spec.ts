import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { openSqlite } from './datasource-registry';
import { REGISTRY_MIGRATIONS } from './registry/tenant-registry.service';
import { REGISTRY_ENTITIES } from './registry/entities';
import { FencedError, installFence, isFencedError, readFenceToken } from './write-fence';

/**
 * Two handles on one real registry file stand for two gateway processes sharing DATA_DIR: the former
 * owner (token 1) keeps its handle open, paused; the new owner (token 2) claims the file.
 */
describe('installFence (storage-side lease fencing on a real SQLite file)', () => {
  let root: string;
  const opened: DataSource[] = [];
  const open = async (file: string) => {
    const ds = await openSqlite(file, { entities: REGISTRY_ENTITIES, migrations: REGISTRY_MIGRATIONS });
    opened.push(ds);
    return ds;
  };
  const insertMember = (ds: DataSource, userId: string) =>
    ds.query(
      "INSERT INTO members (user_id, email, role, created_at, updated_at) VALUES (?, '', 'member', 0, 0)",
      [userId],
    );

  beforeAll(() => (root = mkdtempSync(join(tmpdir(), 'fence-'))));
  afterAll(async () => {
    await Promise.all(opened.map((d) => d.destroy().catch(() => undefined)));
    rmSync(root, { recursive: true, force: true });
  });

  it('a paused former owner cannot commit once a newer token has claimed the file', async () => {
    const file = join(root, 'a', 'registry.db');
    const former = await open(file);
    await installFence(former, 1, 'tenant a');
    await insertMember(former, 'before-takeover');

    const owner = await open(file);
    await installFence(owner, 2, 'tenant a');
    await insertMember(owner, 'new-owner');

    for (const write of [
      () => insertMember(former, 'late-insert'),
      () => former.query("UPDATE members SET role = 'owner' WHERE user_id = 'new-owner'"),
      () => former.query("DELETE FROM members WHERE user_id = 'before-takeover'"),
    ]) {
      const err = await write().then(
        () => null,
        (e: unknown) => e,
      );
      expect(isFencedError(err)).toBe(true);
    }
    const rows = (await owner.query('SELECT user_id, role FROM members ORDER BY user_id')) as unknown[];
    expect(rows).toEqual([
      { user_id: 'before-takeover', role: 'member' },
      { user_id: 'new-owner', role: 'member' },
    ]);
    // The owner keeps writing, and reads stay open to everyone.
    await insertMember(owner, 'after');
    expect((await former.query('SELECT COUNT(*) AS n FROM members')) as unknown).toEqual([{ n: 3 }]);
  });

  it('refuses to open with a token older than the file’s, and a non-owner (token 0) cannot write a claimed file', async () => {
    const file = join(root, 'b', 'registry.db');
    const newer = await open(file);
    await installFence(newer, 5, 'tenant b');
    const stale = await open(file);
    await expect(installFence(stale, 4, 'tenant b')).rejects.toBeInstanceOf(FencedError);
    const reader = await open(file);
    await installFence(reader, 0, 'tenant b');
    await expect(insertMember(reader, 'x')).rejects.toThrow(/fenced/);
    await insertMember(newer, 'y');
    expect(await readFenceToken(reader)).toBe(5);
  });

  it('leaves a never-claimed file writable (one instance, or before any lease)', async () => {
    const ds = await open(join(root, 'c', 'registry.db'));
    await installFence(ds, 0, 'tenant c');
    await insertMember(ds, 'z');
    expect(await readFenceToken(ds)).toBe(0);
    const bare = await open(join(root, 'd', 'registry.db'));
    expect(await readFenceToken(bare)).toBe(0); // no fence table at all
  });
});
