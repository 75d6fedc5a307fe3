import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ConflictError, NotFoundError } from '../protocol/errors.ts';
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, SEGMENT_SIZE, StorageErrorCode, chunkCount, segmentDataLength } from '../protocol/storage/index.ts';
import { storageError } from '../protocol/storage/errors.ts';

/** The bulk bytes of a storage node; which segments exist is the tx store's business. */
export type SegmentStore = {
  /** Writes one segment's bytes and flushes them (fdatasync) before resolving. */
  write(seq: number, index: number, data: Uint8Array): Promise<void>;
  /**
   * Writes several segments of one file with a single flush: one fdatasync per request, not per
   * segment. With `sync: false` it does not flush; `flush` later makes the bytes durable.
   */
  writeMany(seq: number, segments: readonly { index: number; data: Uint8Array }[], options?: { sync?: boolean }): Promise<void>;
  /** Makes everything written so far to a file durable (fdatasync). */
  flush(seq: number): Promise<void>;
  /** Reads chunks [startChunk, endChunk) of a file of `size` bytes; the last chunk is returned zero-padded to 256 B (as 0G's download does). */
  readChunks(seq: number, size: number, startChunk: number, endChunk: number): Promise<Uint8Array>;
  /** Reads one whole data segment as uploaded (the last one cut to its data length, per segmentDataLength). */
  readSegment(seq: number, size: number, index: number): Promise<Uint8Array>;
  /**
   * Reads data segments first … first+count-1 back to back into `target` (exactly their
   * segmentDataLength bytes in all), with one positional read instead of one per segment.
   */
  readRun(seq: number, size: number, first: number, count: number, target: Uint8Array): Promise<void>;
  /** Copies all bytes of one submission to another with the same root (0G finalizes duplicate txs this way). */
  copy(fromSeq: number, toSeq: number): Promise<void>;
  close(): Promise<void>;
};

export type FsSegmentStoreOptions = {
  dir: string;
  /** Open file handles kept for reuse; handles in use are never closed, so this may be exceeded briefly. */
  maxOpenFiles?: number;
};

export const defaultFsSegmentStoreOptions = { maxOpenFiles: 64 } as const;

export const SegmentStoreErrorCode = {
  fileMissing: 'STORAGE_FILE_MISSING',
  closed: 'STORAGE_STORE_CLOSED',
} as const;

/** Copy granularity: large enough to amortise syscalls, small enough to never hold a file in memory. */
const COPY_BLOCK = 16 * SEGMENT_SIZE;

type Entry = { handle: Promise<FileHandle>; users: number };

/**
 * One sparse file per submission, `<dir>/<seq>.dat`, with segment `index` at `index * SEGMENT_SIZE`.
 * All I/O is positional, so concurrent writes to one file share a handle without seeking.
 */
export function fsSegmentStore(options: FsSegmentStoreOptions): SegmentStore {
  const { dir } = options;
  const maxOpenFiles = Math.max(1, options.maxOpenFiles ?? defaultFsSegmentStoreOptions.maxOpenFiles);
  // Map order is recency order: the first entry is the least recently used.
  const handles = new Map<number, Entry>();
  const inFlight = new Set<Promise<unknown>>();
  const closings = new Set<Promise<void>>();
  let closed = false;
  let dirReady: Promise<void> | undefined;

  const pathOf = (seq: number) => join(dir, `${seq}.dat`);

  const ensureDir = (): Promise<void> => {
    dirReady ??= mkdir(dir, { recursive: true }).then(
      () => undefined,
      (error: unknown) => {
        dirReady = undefined;
        throw error;
      },
    );
    return dirReady;
  };

  // A new file's directory entry must be durable too, or a power cut could lose a synced file.
  const syncDir = async (): Promise<void> => {
    const handle = await open(dir, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  };

  const openFile = async (seq: number, create: boolean): Promise<FileHandle> => {
    const path = pathOf(seq);
    if (!create) {
      try {
        return await open(path, constants.O_RDWR);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new NotFoundError(SegmentStoreErrorCode.fileMissing, 'no data stored for this tx', {
            details: `${path} does not exist`,
            meta: { seq },
            cause: error,
          });
        }
        throw error;
      }
    }
    await ensureDir();
    try {
      const handle = await open(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
      try {
        await syncDir();
      } catch (error) {
        await handle.close();
        throw error;
      }
      return handle;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return open(path, constants.O_RDWR);
    }
  };

  const evict = (): void => {
    for (const [seq, entry] of handles) {
      if (handles.size <= maxOpenFiles) return;
      if (entry.users > 0) continue;
      handles.delete(seq);
      const closing = entry.handle.then((handle) => handle.close()).catch(() => undefined);
      closings.add(closing);
      void closing.then(() => closings.delete(closing));
    }
  };

  /** Runs `work` with a cached handle for `seq`; `create` makes the file if it is missing. */
  const withFile = async <T>(seq: number, create: boolean, work: (handle: FileHandle) => Promise<T>): Promise<T> => {
    let entry = handles.get(seq);
    if (entry) {
      handles.delete(seq);
    } else {
      entry = { handle: openFile(seq, create), users: 0 };
      // A failed open must not stay cached; a later write retries with O_CREAT.
      const failed = entry;
      entry.handle.catch(() => {
        if (handles.get(seq) === failed) handles.delete(seq);
      });
    }
    handles.set(seq, entry);
    entry.users++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      entry.users--;
      evict();
    };
    try {
      let handle: FileHandle;
      try {
        handle = await entry.handle;
      } catch (error) {
        // The cached open was a read's (no O_CREAT) that found no file: a write may create it.
        if (!create || !(error instanceof NotFoundError)) throw error;
        release();
        return await withFile(seq, create, work);
      }
      return await work(handle);
    } finally {
      release();
    }
  };

  /** Tracks an operation so close() waits for it, and refuses new ones after close(). */
  const track = <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    if (closed) {
      return Promise.reject(
        new ConflictError(SegmentStoreErrorCode.closed, 'segment store is closed', { meta: { operation, dir } }),
      );
    }
    const promise = run();
    inFlight.add(promise);
    const done = () => inFlight.delete(promise);
    promise.then(done, done);
    return promise;
  };

  const writeAll = async (handle: FileHandle, data: Uint8Array, position: number): Promise<void> => {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
      written += bytesWritten;
    }
  };

  /** Fills `buffer` from `position`; bytes past the end of the file (or in holes) stay zero. */
  const readInto = async (handle: FileHandle, buffer: Uint8Array, length: number, position: number): Promise<number> => {
    let read = 0;
    while (read < length) {
      const { bytesRead } = await handle.read(buffer, read, length - read, position + read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return read;
  };

  const assertSeq = (seq: number, param = 'seq'): void => {
    if (!Number.isSafeInteger(seq) || seq < 0) {
      throw storageError(StorageErrorCode.invalidInput, 'invalid tx seq', `expected a non-negative integer, got ${seq}`, {
        param,
      });
    }
  };

  const checkSegment = (index: number, data: Uint8Array): void => {
    if (!Number.isSafeInteger(index) || index < 0) {
      throw storageError(StorageErrorCode.indexOutOfBound, 'index out of bound', `segment ${index}`, { param: 'index' });
    }
    if (data.length === 0 || data.length > SEGMENT_SIZE) {
      throw storageError(
        StorageErrorCode.invalidDataLength,
        'invalid data length',
        `a segment holds 1..${SEGMENT_SIZE} bytes, got ${data.length}`,
        { param: 'data' },
      );
    }
  };

  const writeMany: SegmentStore['writeMany'] = (seq, segments, options = {}) =>
    track('write', async () => {
      assertSeq(seq);
      for (const { index, data } of segments) checkSegment(index, data);
      await withFile(seq, true, async (handle) => {
        await Promise.all(contiguousRuns(segments).map(({ index, data }) => writeAll(handle, data, index * SEGMENT_SIZE)));
        if (options.sync !== false) await handle.datasync();
      });
    });

  return {
    write: (seq, index, data) => writeMany(seq, [{ index, data }]),
    writeMany,

    flush(seq) {
      return track('flush', async () => {
        assertSeq(seq);
        await withFile(seq, false, (handle) => handle.datasync());
      });
    },

    readChunks(seq, size, startChunk, endChunk) {
      return track('readChunks', async () => {
        assertSeq(seq);
        const chunks = chunkCount(size);
        if (!Number.isSafeInteger(startChunk) || !Number.isSafeInteger(endChunk) || startChunk < 0 || startChunk >= endChunk || endChunk > chunks) {
          throw storageError(
            StorageErrorCode.indexOutOfBound,
            'invalid chunk index',
            `chunks [${startChunk}, ${endChunk}) of a file of ${chunks}`,
            { param: 'startChunk' },
          );
        }
        const start = startChunk * CHUNK_SIZE;
        const out = new Uint8Array((endChunk - startChunk) * CHUNK_SIZE);
        // Only bytes below `size` come from disk, so the last chunk's padding is zero by construction.
        const length = Math.min(endChunk * CHUNK_SIZE, size) - start;
        await withFile(seq, false, (handle) => readInto(handle, out, length, start));
        return out;
      });
    },

    readSegment(seq, size, index) {
      return track('readSegment', async () => {
        assertSeq(seq);
        const out = new Uint8Array(segmentDataLength(size, index));
        const start = index * SEGMENT_SIZE;
        const length = Math.min(out.length, size - start);
        await withFile(seq, false, (handle) => readInto(handle, out, length, start));
        return out;
      });
    },

    readRun(seq, size, first, count, target) {
      return track('readRun', async () => {
        assertSeq(seq);
        const segments = Math.ceil(chunkCount(size) / CHUNKS_PER_SEGMENT);
        if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 1 || first + count > segments) {
          throw storageError(StorageErrorCode.indexOutOfBound, 'index out of bound', `segments ${first}..${first + count - 1} of ${segments}`, { param: 'index' });
        }
        const expected = (count - 1) * SEGMENT_SIZE + segmentDataLength(size, first + count - 1);
        if (target.length !== expected) {
          throw storageError(StorageErrorCode.invalidDataLength, 'invalid data length', `segments need ${expected} bytes, target holds ${target.length}`, { param: 'data' });
        }
        const start = first * SEGMENT_SIZE;
        // Bytes past the file's end are the last chunk's padding: zero, never stale buffer contents.
        const length = Math.min(expected, size - start);
        target.fill(0, length);
        const read = await withFile(seq, false, (handle) => readInto(handle, target, length, start));
        target.fill(0, read, length);
      });
    },

    copy(fromSeq, toSeq) {
      return track('copy', async () => {
        assertSeq(fromSeq, 'fromSeq');
        assertSeq(toSeq, 'toSeq');
        if (fromSeq === toSeq) return;
        await withFile(fromSeq, false, async (source) => {
          const { size } = await source.stat();
          await withFile(toSeq, true, async (target) => {
            const block = new Uint8Array(Math.min(COPY_BLOCK, Math.max(size, 1)));
            for (let position = 0; position < size; position += block.length) {
              const length = Math.min(block.length, size - position);
              block.fill(0);
              await readInto(source, block, length, position);
              await writeAll(target, block.subarray(0, length), position);
            }
            await target.truncate(size);
            await target.datasync();
          });
        });
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled(inFlight);
      const entries = [...handles.values()];
      handles.clear();
      await Promise.allSettled([...closings, ...entries.map(async (entry) => (await entry.handle).close())]);
    },
  };
}

/**
 * Neighbouring full segments that also sit side by side in one buffer (as a binary batch's do)
 * become one write: one syscall and one thread-pool hop instead of one per segment.
 */
function contiguousRuns(segments: readonly { index: number; data: Uint8Array }[]): { index: number; data: Uint8Array }[] {
  const runs: { index: number; data: Uint8Array }[] = [];
  for (const segment of segments) {
    const last = runs[runs.length - 1];
    const adjacent =
      last !== undefined &&
      last.data.length % SEGMENT_SIZE === 0 &&
      segment.index === last.index + last.data.length / SEGMENT_SIZE &&
      segment.data.buffer === last.data.buffer &&
      segment.data.byteOffset === last.data.byteOffset + last.data.length;
    if (adjacent) runs[runs.length - 1] = { index: last.index, data: new Uint8Array(last.data.buffer, last.data.byteOffset, last.data.length + segment.data.length) };
    else runs.push(segment);
  }
  return runs;
}
