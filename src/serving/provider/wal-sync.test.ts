import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { LevityError } from '../../protocol/errors.ts';
import { openSqlite } from '../../shared/sqlite.ts';
import { createWalSync } from './wal-sync.ts';

describe('WAL sync', () => {
  const dir = mkdtempSync(join(tmpdir(), 'levity-wal-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('syncs what was committed, once for every caller waiting on it, and blocking when asked', async () => {
    const path = join(dir, 'a.sqlite');
    const db = openSqlite(path, { synchronous: 'NORMAL' });
    db.exec('CREATE TABLE t (v TEXT)');
    const wal = createWalSync(path);
    // Nothing committed through it yet: nothing to wait for.
    await wal.sync();
    db.prepare('INSERT INTO t (v) VALUES (?)').run('one');
    wal.committed();
    assert.ok(statSync(`${path}-wal`).size > 0, 'the commit is in the WAL');
    const first = wal.sync();
    assert.equal(wal.sync(), first, 'a sync under way covers callers of the same commits');
    await first;
    db.prepare('INSERT INTO t (v) VALUES (?)').run('two');
    wal.committed();
    assert.notEqual(wal.sync(), first, 'a later commit needs a sync of its own');
    await wal.sync();
    db.prepare('INSERT INTO t (v) VALUES (?)').run('three');
    wal.committed();
    wal.syncNow();
    await wal.sync();
    wal.close();
    db.close();
  });

  it('fails typed, never silently, when there is no WAL to sync', async () => {
    const wal = createWalSync(join(dir, 'missing.sqlite'));
    wal.committed();
    await assert.rejects(wal.sync(), (err: unknown) => err instanceof LevityError && err.code === 'SERVING_STORE_SYNC_FAILED');
    assert.throws(() => wal.syncNow(), (err: unknown) => err instanceof LevityError && err.code === 'SERVING_STORE_SYNC_FAILED');
    wal.close();
  });
});
