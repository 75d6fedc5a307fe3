import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConflictError } from '../protocol/errors.ts';
import { LOCK_FILE, acquireDirLock } from './dir-lock.ts';

/** A real process that stays alive until killed, to stand in for another levity. */
function liveProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

describe('acquireDirLock', () => {
  let dir: string;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-dir-lock-'));
  });

  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the data dir and a lock file holding the pid', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const lock = await acquireDirLock(dataDir);
    assert.equal(lock.path, join(dataDir, LOCK_FILE));
    assert.equal(LOCK_FILE, 'levity.lock');
    assert.equal(await readFile(lock.path, 'utf8'), `${process.pid}\n`);
    await lock.release();
  });

  it('refuses a dir whose lock names another live process', async () => {
    const child = liveProcess();
    children.push(child);
    await once(child, 'spawn');
    const owner = child.pid;
    assert.ok(owner !== undefined);
    await writeFile(join(dir, LOCK_FILE), `${owner}\n`);
    await assert.rejects(acquireDirLock(dir), (error) => {
      assert.ok(error instanceof ConflictError);
      assert.equal(error.code, 'DATADIR_IN_USE');
      assert.match(error.shortMessage, new RegExp(`pid ${owner}\\b`));
      assert.deepEqual(error.meta, { dir, pid: owner });
      return true;
    });
    assert.equal(await readFile(join(dir, LOCK_FILE), 'utf8'), `${owner}\n`, 'the live lock is left alone');
  });

  it('refuses a second acquire while this process holds the lock under another pid', async () => {
    const child = liveProcess();
    children.push(child);
    await once(child, 'spawn');
    const first = await acquireDirLock(dir, child.pid);
    await assert.rejects(acquireDirLock(dir), { name: 'ConflictError', code: 'DATADIR_IN_USE' });
    await first.release();
    const second = await acquireDirLock(dir);
    assert.equal(await readFile(second.path, 'utf8'), `${process.pid}\n`);
    await second.release();
  });

  it('takes over a stale lock whose owner has exited', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
    const deadPid = child.pid;
    assert.ok(deadPid !== undefined);
    await writeFile(join(dir, LOCK_FILE), `${deadPid}\n`);
    const lock = await acquireDirLock(dir);
    assert.equal(await readFile(lock.path, 'utf8'), `${process.pid}\n`);
    await lock.release();
  });

  it('takes over a lock file with garbage in it', async () => {
    await writeFile(join(dir, LOCK_FILE), 'not a pid');
    const lock = await acquireDirLock(dir);
    assert.equal(await readFile(lock.path, 'utf8'), `${process.pid}\n`);
    await lock.release();
  });

  it('release removes the lock file and may be called again', async () => {
    const lock = await acquireDirLock(dir);
    assert.equal(await exists(lock.path), true);
    await lock.release();
    assert.equal(await exists(lock.path), false);
    await lock.release();
    assert.equal(await exists(lock.path), false);
  });
});
