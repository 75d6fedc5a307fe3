/**
 * Worker threads for the storage client's hashing: one pool per process, started on first use
 * and kept (unreferenced while idle, so it never holds a process open) for the next upload or
 * download. A worker takes ~100 ms to load, so callers hash on their own thread too, and hand
 * work to a worker only once it has said it is ready, instead of waiting for it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { LevityError } from '../../protocol/errors.ts';
import type { BatchExpectation } from './verify-batch.ts';

export type StorageJob =
  | { kind: 'hash'; id: number; path: string; first: number; count: number }
  | { kind: 'verify'; id: number; body: SharedArrayBuffer; offset: number; length: number; expect: BatchExpectation };

export type StorageReply = { id: number; roots: ArrayBuffer; dataOffset?: number } | { id: number; error: string };

/** What a worker posts once, when it has loaded. */
export const WORKER_READY = 'ready';

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

export type PoolWorker = { readonly ready: Promise<void>; run(job: StorageJob, transfer: ArrayBuffer[]): Promise<StorageReply> };

/** One per core, at most 4: hashing is the work, and beyond that the disk and sockets are the limit. */
export function defaultStorageThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

let shared: StoragePool | undefined;

/** The process's pool, its workers starting now if they have not; `threads` only matters on the first call. */
export function storagePool(threads = defaultStorageThreads()): StoragePool {
  shared ??= createStoragePool(threads);
  return shared;
}

function createStoragePool(threads: number): StoragePool {
  const slots: Slot[] = [];
  const waiting = new Map<number, Waiting>();
  const handle = (slot: Slot): PoolWorker => ({
    ready: slot.loaded,
    run(job, transfer) {
      if (slot.busy++ === 0) slot.worker.ref();
      return new Promise((resolve, reject) => {
        waiting.set(job.id, { slot, resolve, reject });
        slot.worker.postMessage(job, transfer);
      });
    },
  });

  const spawn = (): void => {
    let loaded = () => {};
    const slot: Slot = {
      worker: new Worker(new URL('./storage-worker.ts', import.meta.url)),
      ready: false,
      loaded: new Promise((resolve) => (loaded = resolve)),
      busy: 0,
    };
    slots.push(slot);
    slot.worker.on('message', (reply: StorageReply | typeof WORKER_READY) => {
      if (reply === WORKER_READY) {
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
      spawn();
    };
    slot.worker.on('error', fail);
    slot.worker.on('exit', (code) => fail(new LevityError('STORAGE_WORKER_EXITED', `storage hashing worker exited with code ${code}`)));
    // After the listeners: attaching a 'message' listener refs the worker again.
    slot.worker.unref();
  };

  for (let i = 0; i < threads; i++) spawn();

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

let nextJobId = 0;

/** A fresh job id, unique in this process. */
export function jobId(): number {
  return nextJobId++;
}
