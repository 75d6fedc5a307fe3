/**
 * Worker threads for the storage client's hashing: one pool per process, started on first use
 * and kept (unreferenced while idle, so it never holds a process open) for the next upload or
 * download. The threads are the storage node's (segment-root-worker.ts): each instantiates the
 * module this thread compiled, so it is ready in a few milliseconds; callers still hash on their
 * own thread too, and hand work to a worker only once it has said it is ready.
 */
import { availableParallelism } from 'node:os';
import { compileSegmentModule } from '../../protocol/storage/index.ts';
import type { CompiledModule } from '../../protocol/storage/index.ts';
import { startRootThread } from './segment-root-pool.ts';
import type { RootJobSpec, RootReply, RootThread } from './segment-root-pool.ts';

export type { RootSegment } from './segment-root-pool.ts';

/** A job without its id (each thread numbers its own): roots of segments in shared memory, or of a file's run of whole segments. */
export type StorageJob = RootJobSpec;
export type StorageReply = RootReply;

export type StoragePool = {
  readonly threads: number;
  /** A loaded worker with nothing to do, if there is one. */
  readyIdle(): PoolWorker | undefined;
  /** The loaded worker with the least queued, if any has loaded. */
  leastBusy(): PoolWorker | undefined;
  /** Every worker, each with a promise of its loading (one that dies loading never resolves it). */
  workers(): PoolWorker[];
};

export type PoolWorker = { readonly ready: Promise<void>; run(job: StorageJob): Promise<StorageReply> };

/** One per core, at most 4: hashing is the work, and beyond that the disk and sockets are the limit. */
export function defaultStorageThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

let shared: Promise<StoragePool> | undefined;

/**
 * The process's pool, its workers starting now if they have not; `threads` only matters on the
 * first call. Without WebAssembly SIMD there is nothing to share out: the pool has no workers.
 */
export function storagePool(threads = defaultStorageThreads()): Promise<StoragePool> {
  shared ??= compileSegmentModule().then((module) => createStoragePool(module ? threads : 0, module));
  return shared;
}

function createStoragePool(threads: number, module: CompiledModule | undefined): StoragePool {
  const slots: RootThread[] = [];
  const handle = (thread: RootThread): PoolWorker => ({ ready: thread.loaded, run: (job) => thread.run(job) });
  // A dead worker is replaced, so the pool keeps its size.
  const replace = (thread: RootThread) => {
    const at = slots.indexOf(thread);
    if (at < 0) return;
    slots.splice(at, 1);
    slots.push(startRootThread(module!, replace));
  };
  if (module) for (let i = 0; i < threads; i++) slots.push(startRootThread(module, replace));

  return {
    threads,
    readyIdle() {
      const slot = slots.find((s) => s.ready && s.busy === 0);
      return slot && handle(slot);
    },
    leastBusy() {
      const ready = slots.filter((s) => s.ready);
      if (ready.length === 0) return undefined;
      return handle(ready.reduce((best, s) => (s.busy < best.busy ? s : best)));
    },
    workers() {
      return slots.map(handle);
    },
  };
}
