/**
 * Worker threads for the storage client's hashing: one pool per process, started on first use
 * and kept (unreferenced while idle, so it never holds a process open) for the next upload or
 * download. The threads are the storage node's (segment-root-worker.ts): each instantiates the
 * module this thread compiled, so it is ready in a few milliseconds; callers still hash on their
 * own thread too, and hand work to a worker only once it has said it is ready.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { LevityError } from '../../protocol/errors.ts';
import { compileSegmentModule } from '../../protocol/storage/index.ts';
import type { CompiledModule } from '../../protocol/storage/index.ts';
import { ROOT_WORKER_READY, startSegmentThread } from './segment-root-pool.ts';
import type { RootJob, RootReply } from './segment-root-pool.ts';

export type { RootSegment } from './segment-root-pool.ts';

/** A job without its id (the pool numbers them): roots of segments in shared memory, or of a file's run of whole segments. */
export type StorageJob = RootJob extends infer J ? (J extends RootJob ? Omit<J, 'id'> : never) : never;
export type StorageReply = RootReply;

type Slot = { worker: Worker; ready: boolean; loaded: Promise<void>; busy: number };
type Waiting = { slot: Slot; resolve: (reply: StorageReply) => void; reject: (error: Error) => void };

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

let nextJobId = 0;

function createStoragePool(threads: number, module: CompiledModule | undefined): StoragePool {
  const slots: Slot[] = [];
  const waiting = new Map<number, Waiting>();
  const handle = (slot: Slot): PoolWorker => ({
    ready: slot.loaded,
    run(job) {
      const id = nextJobId++;
      if (slot.busy++ === 0) slot.worker.ref();
      return new Promise((resolve, reject) => {
        waiting.set(id, { slot, resolve, reject });
        slot.worker.postMessage({ ...job, id } as RootJob);
      });
    },
  });

  const spawn = (compiled: CompiledModule): void => {
    let loaded = () => {};
    const slot: Slot = { worker: startSegmentThread(compiled), ready: false, loaded: new Promise((resolve) => (loaded = resolve)), busy: 0 };
    slots.push(slot);
    slot.worker.on('message', (reply: StorageReply | typeof ROOT_WORKER_READY) => {
      if (reply === ROOT_WORKER_READY) {
        slot.ready = true;
        loaded();
        return;
      }
      const entry = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (--slot.busy === 0) slot.worker.unref();
      entry?.resolve(reply);
    });
    // A dead worker fails what it held and is replaced, so the pool keeps its size.
    const fail = (error: Error) => {
      const at = slots.indexOf(slot);
      if (at < 0) return;
      slots.splice(at, 1);
      for (const [id, entry] of waiting) {
        if (entry.slot !== slot) continue;
        waiting.delete(id);
        entry.reject(error);
      }
      spawn(compiled);
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => fail(new LevityError('STORAGE_WORKER_EXITED', `storage hashing worker exited with code ${code}`)));
    // After the listeners: attaching a 'message' listener refs the worker again.
    slot.worker.unref();
  };

  if (module) for (let i = 0; i < threads; i++) spawn(module);

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
