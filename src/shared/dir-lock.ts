import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError } from '../protocol/errors.ts';

export type DirLock = { readonly path: string; release(): Promise<void> };

export const LOCK_FILE = 'levity.lock';

/**
 * Takes a data dir for this process. A lock whose owner is gone (after kill -9) is stale and
 * taken over; a live owner makes this fail at once with a clear message.
 */
export async function acquireDirLock(dir: string, pid = process.pid): Promise<DirLock> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(path, 'wx');
      await handle.writeFile(`${pid}\n`);
      await handle.sync();
      await handle.close();
      return { path, release: () => unlink(path).catch(() => undefined) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(owner) && owner !== pid && isAlive(owner)) {
      throw new ConflictError('DATADIR_IN_USE', `data dir ${dir} is in use by another levity process (pid ${owner})`, {
        details: 'stop that process first, or pass another --data-dir',
        meta: { dir, pid: owner },
      });
    }
    await unlink(path).catch(() => undefined); // stale: its owner died without cleaning up
  }
  throw new ConflictError('DATADIR_LOCK_CONTENDED', `could not lock data dir ${dir}`, { meta: { dir } });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
