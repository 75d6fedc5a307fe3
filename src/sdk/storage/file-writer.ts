/**
 * Positional writes to one file behind a download's lanes: a lane hands its verified bytes over
 * and goes on fetching, instead of holding its slot (and the next fetch) until the kernel has
 * taken them. Writes run one at a time, since concurrent writes to one file queue on its inode
 * lock and the kernel spins waiting for it, burning a core the hashing needs.
 *
 * Where the system allows it (Linux, a file system with O_DIRECT), bytes aligned in memory go
 * to the disk directly from the caller's buffer: copying them into the page cache measured as
 * a fifth of a download's CPU on a virtual machine, and there is then nothing left for the final
 * fsync to write but metadata. Everything else (an unaligned buffer, a file's ragged end) goes
 * through the page cache, flushed every so often in the background so the final fsync has
 * little left to do. A direct write the file system refuses turns direct writes off.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';

export type FileWriter = {
  /**
   * Queues `data` for `position`; resolves once it is queued (at once unless `maxQueuedBytes`
   * are already waiting), and calls `settled` once the write is over, `ok` when it succeeded
   * (either way `data` may then be reused). `aligned`: `data` starts on a `directAlignment`
   * boundary in memory. Rejects with the first failure of any write or flush.
   */
  write(data: Uint8Array, position: number, aligned: boolean, settled: (ok: boolean) => void): Promise<void>;
  /** Waits for every queued write and flush, and closes what it opened; rejects with the first failure. */
  drain(): Promise<void>;
};

export type FileWriterOptions = {
  maxQueuedBytes: number;
  syncEveryBytes: number;
  /** Also write aligned data to this file (the one `handle` is open on) with O_DIRECT, when possible. */
  directPath?: string;
  /** What O_DIRECT needs of buffers, offsets and lengths. */
  directAlignment?: number;
};

export function createFileWriter(handle: FileHandle, options: FileWriterOptions): FileWriter {
  const alignment = options.directAlignment ?? 4096;
  let tail: Promise<void> = Promise.resolve();
  let queued = 0;
  let unsynced = 0;
  let failure: unknown;
  let syncing: Promise<void> = Promise.resolve();
  let syncQueued = false;
  const room: (() => void)[] = [];
  // Opened on the first aligned write; undefined (and never retried) where O_DIRECT is missing or refused.
  let direct: Promise<FileHandle | undefined> | undefined;
  let directOff = options.directPath === undefined || constants.O_DIRECT === undefined;

  const fail = (error: unknown) => {
    failure ??= error;
    for (const wake of room.splice(0)) wake();
  };

  // One flush runs at a time and at most one waits: a waiting one covers whatever is written
  // before it starts.
  const flushSoon = () => {
    if (syncQueued) return;
    syncQueued = true;
    syncing = syncing
      .then(() => {
        syncQueued = false;
        return failure === undefined ? handle.datasync() : undefined;
      })
      .catch(fail);
  };

  const buffered = async (data: Uint8Array, position: number) => {
    await writeAll(handle, data, position);
    unsynced += data.length;
    if (unsynced >= options.syncEveryBytes) {
      unsynced = 0;
      flushSoon();
    }
  };

  /** Writes the aligned front of `data` directly; returns how many bytes it wrote (0: none, use the page cache). */
  const directly = async (data: Uint8Array, position: number): Promise<number> => {
    const length = data.length - (data.length % alignment);
    if (directOff || length === 0 || position % alignment !== 0) return 0;
    direct ??= open(options.directPath!, constants.O_WRONLY | constants.O_DIRECT).catch(() => undefined);
    const file = await direct;
    if (!file) {
      directOff = true;
      return 0;
    }
    let done = 0;
    try {
      while (done < length) {
        const { bytesWritten } = await file.write(data, done, length - done, position + done);
        done += bytesWritten;
        // A short write leaves an unaligned rest, which the page cache takes.
        if (bytesWritten % alignment !== 0 || bytesWritten === 0) break;
      }
    } catch {
      // EINVAL and the like: this file system will not do it; the page cache takes the rest.
      directOff = true;
    }
    return done;
  };

  return {
    async write(data, position, aligned, settled) {
      while (queued >= options.maxQueuedBytes && failure === undefined) await new Promise<void>((wake) => room.push(wake));
      if (failure !== undefined) throw failure;
      queued += data.length;
      tail = tail.then(async () => {
        let ok = false;
        try {
          if (failure === undefined) {
            const done = aligned ? await directly(data, position) : 0;
            if (done < data.length) await buffered(data.subarray(done), position + done);
            ok = true;
          }
        } catch (error) {
          fail(error);
        } finally {
          queued -= data.length;
          settled(ok);
          room.shift()?.();
        }
      });
    },
    async drain() {
      await tail;
      await syncing;
      const file = await direct;
      direct = undefined;
      // Direct writes are on the device already; the caller's fsync of `handle` makes them durable.
      await file?.close().catch(fail);
      if (failure !== undefined) throw failure;
    },
  };
}

async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < data.length; ) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}
