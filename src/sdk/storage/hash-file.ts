import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { createFileHasher, loadKeccak, loadSegmentHasher, SEGMENT_SIZE, SEGMENTS_PER_CALL } from '../../protocol/storage/index.ts';
import type { FileHasher, FileTree, Keccak, SegmentHasher } from '../../protocol/storage/index.ts';
import { InvalidInputError } from '../../protocol/errors.ts';
import { fileRoots } from './segment-root-jobs.ts';
import { StorageClientErrorCode } from './node-rpc.ts';
import { defaultStorageThreads, storagePool } from './storage-pool.ts';
import type { PoolWorker } from './storage-pool.ts';

export type HashFileParameters = {
  path: string;
  keccak?: Keccak;
  /** Worker threads to hash on beside this one (default: one per core, at most 4, for files of 16 MiB and more; 0: this thread only). */
  threads?: number;
  onProgress?: (progress: { done: number; total: number }) => void;
  /** Called once the hashing threads (if any) have been started, before the hashing itself. */
  onStart?: () => void;
};

export type HashFileReturnType = FileTree;

/**
 * Below this, starting workers costs more than it saves. Above it they pay for themselves, even
 * counting their start (~25 ms of CPU each, spent while this thread hashes), and stay loaded for
 * the next upload or download in the process.
 */
const WORKERS_FROM_BYTES = 16 * 1024 * 1024;
/** Segments per job (4 MiB): small enough to balance busy cores, big enough to amortise a job. */
const JOB_SEGMENTS = 16;

/**
 * The 0G Merkle tree of a file on disk: root, segment roots and submission nodes, reading every
 * byte once. Segment subtrees are independent, so the file's whole segments are hashed in jobs
 * shared by this thread and worker threads (each reading its own ranges; workers join as they
 * finish loading); the roots are assembled in order here, and a last partial segment is hashed
 * here too.
 */
export async function hashFile(parameters: HashFileParameters): Promise<HashFileReturnType> {
  const handle = await open(parameters.path, 'r');
  try {
    const size = (await handle.stat()).size;
    if (size === 0) throw new InvalidInputError(StorageClientErrorCode.emptyFile, `${parameters.path} is empty; 0G storage cannot hold empty files`);
    const threads = parameters.threads ?? (size >= WORKERS_FROM_BYTES ? defaultStorageThreads() : 0);
    const whole = Math.floor(size / SEGMENT_SIZE);
    // Threads first: they take longest to get going (this one's hasher shares their compiled module).
    const pool = threads > 0 && whole > JOB_SEGMENTS ? await storagePool(threads) : undefined;
    parameters.onStart?.();
    const keccak = parameters.keccak ?? (await loadKeccak());
    const segments = await loadSegmentHasher();
    const hasher = createFileHasher(keccak, size, { segments });
    const workers = pool ? pool.workers() : [];
    const from = workers.length > 0 ? await hashShared(parameters, handle, segments, hasher, whole, size, workers) : 0;
    await hashHere(handle, hasher, from, size, parameters);
    return hasher.finish();
  } finally {
    await handle.close();
  }
}

/** Feeds bytes [from, size) through this thread, SEGMENTS_PER_CALL segments per read. */
async function hashHere(handle: FileHandle, hasher: FileHasher, from: number, size: number, parameters: HashFileParameters): Promise<void> {
  if (from >= size) return;
  const buffer = Buffer.allocUnsafe(Math.min(SEGMENTS_PER_CALL * SEGMENT_SIZE, size - from));
  for (let offset = from; offset < size; ) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - offset), offset);
    // A file that shrinks under us would otherwise loop forever or hash garbage.
    if (bytesRead === 0) throw new InvalidInputError(StorageClientErrorCode.invalidInput, `${parameters.path} changed while it was read`);
    hasher.update(buffer.subarray(0, bytesRead));
    offset += bytesRead;
    parameters.onProgress?.({ done: offset, total: size });
  }
}

/**
 * Segments [0, whole) in jobs of JOB_SEGMENTS, taken in order by this thread and by each worker
 * once it has loaded; roots go into the tree in file order as jobs finish. Returns the offset
 * where whole segments end.
 */
async function hashShared(
  parameters: HashFileParameters,
  handle: FileHandle,
  segments: SegmentHasher,
  hasher: FileHasher,
  whole: number,
  size: number,
  workers: PoolWorker[],
): Promise<number> {
  const jobs = Math.ceil(whole / JOB_SEGMENTS);
  const results = new Array<Uint8Array | undefined>(jobs);
  let next = 0;
  let fed = 0;
  let failed = false;
  let allTaken = () => {};
  const taken = new Promise<void>((resolve) => (allTaken = resolve));
  const take = (): number => {
    if (failed || next >= jobs) return -1;
    if (next === jobs - 1) allTaken();
    return next++;
  };
  const finished = (j: number, roots: Uint8Array) => {
    results[j] = roots;
    while (fed < jobs && results[fed]) {
      hasher.addSegmentRoots(results[fed]!);
      results[fed] = undefined;
      fed++;
      parameters.onProgress?.({ done: Math.min(size, fed * JOB_SEGMENTS * SEGMENT_SIZE), total: size });
    }
  };
  const range = (j: number) => ({ first: j * JOB_SEGMENTS, count: Math.min(JOB_SEGMENTS, whole - j * JOB_SEGMENTS) });
  const lane = async (work: (j: number) => Promise<Uint8Array>) => {
    try {
      for (let j = take(); j >= 0; j = take()) finished(j, await work(j));
    } catch (error) {
      failed = true;
      throw error;
    }
  };
  const here = lane(async (j) => {
    const { first, count } = range(j);
    return fileRoots(segments, handle, parameters.path, first, count);
  });
  const onWorker = (worker: PoolWorker) => async (j: number) => {
    const reply = await worker.run({ kind: 'file', path: parameters.path, ...range(j) }).catch(() => undefined);
    if (!reply) {
      // The worker died: do its job here, with a hasher of its own (the other lane here owns `segments`).
      const { first, count } = range(j);
      return fileRoots(await loadSegmentHasher(), handle, parameters.path, first, count);
    }
    if ('error' in reply) throw new InvalidInputError(StorageClientErrorCode.invalidInput, `hashing ${parameters.path} failed: ${reply.error}`, { meta: { path: parameters.path, ...range(j) } });
    return new Uint8Array(reply.roots);
  };
  // Two lanes per worker keep its next job queued while this thread is busy hashing.
  const there = workers.map(async (worker) => {
    await Promise.race([worker.ready, taken]);
    await Promise.all([lane(onWorker(worker)), lane(onWorker(worker))]);
  });
  await Promise.all([here, ...there]);
  return whole * SEGMENT_SIZE;
}
