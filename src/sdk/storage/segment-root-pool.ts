/**
 * Segment roots for a storage node, on worker threads: a node checking a stream of uploads
 * spends nearly all its CPU hashing segments, and those hashes are independent. Bodies in shared
 * memory are read by the worker in place. Workers start on `warm()` or first use, and until one
 * has loaded this thread hashes, so no upload waits for a thread to start. The threads
 * themselves, with their bookkeeping (startRootThread), also serve the storage client's pool.
 */
import { Worker } from 'node:worker_threads';
import { LevityError } from '../../protocol/errors.ts';
import { compileSegmentModule, loadSegmentHasher } from '../../protocol/storage/segment-hasher.ts';
import type { CompiledModule } from '../../protocol/storage/segment-hasher.ts';
import { ROOT_WORKER_READY, rootsAt } from './segment-root-jobs.ts';
import type { RootJob, RootReply, RootSegment } from './segment-root-jobs.ts';

export type { RootJob, RootReply, RootSegment } from './segment-root-jobs.ts';
export { ROOT_WORKER_READY } from './segment-root-jobs.ts';

const WORKER_URL = new URL('./segment-root-worker.ts', import.meta.url).href;
/**
 * The thread's entry: plain JavaScript that turns on Node's compile cache before loading any
 * TypeScript, so that (once cached) a thread does not load the type stripper at all: that alone
 * cost ~40 ms of CPU per thread, as much as hashing 16 MiB.
 */
const ENTRY = `require('node:module').enableCompileCache(); import(${JSON.stringify(WORKER_URL)});`;

/**
 * A hashing thread (segment-root-worker.ts) over `module`, from compileSegmentModule(): it
 * posts ROOT_WORKER_READY once, then answers each RootJob with a RootReply. Callers unref it
 * after attaching their listeners (attaching a 'message' listener refs a worker again).
 */
function startSegmentThread(module: CompiledModule): Worker {
  return new Worker(ENTRY, { eval: true, workerData: { module } });
}

/** A job without its id (each thread numbers its own). */
export type RootJobSpec = RootJob extends infer J ? (J extends RootJob ? Omit<J, 'id'> : never) : never;

/**
 * A hashing thread with its bookkeeping: whether it has loaded, how many jobs it holds (it is
 * referenced only while it holds some, so an idle one never keeps a process open), and the
 * promises of those jobs, which fail if the thread dies; `onDeath` then lets its pool drop it.
 */
export type RootThread = {
  readonly ready: boolean;
  /** Resolves once it has loaded (never, for one that dies loading). */
  readonly loaded: Promise<void>;
  readonly busy: number;
  run(job: RootJobSpec): Promise<RootReply>;
  terminate(): Promise<number>;
};

export function startRootThread(module: CompiledModule, onDeath: (thread: RootThread) => void): RootThread {
  const worker = startSegmentThread(module);
  const waiting = new Map<number, { resolve: (reply: RootReply) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let ready = false;
  let busy = 0;
  let dead = false;
  let markLoaded = () => {};
  const loaded = new Promise<void>((resolve) => (markLoaded = resolve));
  const thread: RootThread = {
    get ready() {
      return ready;
    },
    loaded,
    get busy() {
      return busy;
    },
    run(job) {
      const id = nextId++;
      if (busy++ === 0) worker.ref();
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ ...job, id } as RootJob);
      });
    },
    terminate: () => worker.terminate(),
  };
  worker.on('message', (reply: RootReply | typeof ROOT_WORKER_READY) => {
    if (reply === ROOT_WORKER_READY) {
      ready = true;
      markLoaded();
      return;
    }
    const entry = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (--busy === 0) worker.unref();
    entry?.resolve(reply);
  });
  const fail = (error: Error) => {
    if (dead) return;
    dead = true;
    for (const entry of waiting.values()) entry.reject(error);
    waiting.clear();
    onDeath(thread);
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new LevityError('STORAGE_WORKER_EXITED', `segment hashing worker exited with code ${code}`)));
  // After the listeners: attaching a 'message' listener refs the worker again.
  worker.unref();
  return thread;
}

export type SegmentRootPool = {
  /** The roots of `segments`, at offsets within `bytes`. */
  roots(bytes: Uint8Array, segments: readonly RootSegment[]): Promise<Uint8Array[]>;
  /** Starts the workers now, so the first upload does not wait for them to load. */
  warm(): void;
  close(): Promise<void>;
};

/** `threads` 0 hashes on the calling thread (tests, tiny machines). */
export function createSegmentRootPool(options: { threads: number }): SegmentRootPool {
  const slots: RootThread[] = [];
  let closed = false;
  let module: CompiledModule | undefined;
  let compiling: Promise<unknown> | undefined;

  // A dead worker is dropped and replaced on the next job.
  const drop = (thread: RootThread) => {
    const at = slots.indexOf(thread);
    if (at >= 0) slots.splice(at, 1);
  };

  /** Starts missing workers once the module is compiled (without SIMD there are none: this thread hashes). */
  const fill = () => {
    if (closed || options.threads <= 0) return;
    if (!module) {
      compiling ??= compileSegmentModule().then((compiled) => {
        module = compiled;
        if (module) fill();
      });
      return;
    }
    while (slots.length < options.threads) slots.push(startRootThread(module, drop));
  };

  /** An idle loaded worker, else the least busy loaded one; none while they are all still loading. */
  const pick = (): RootThread | undefined => {
    fill();
    const ready = slots.filter((slot) => slot.ready);
    return ready.find((slot) => slot.busy === 0) ?? ready.sort((a, b) => a.busy - b.busy)[0];
  };

  let inline: ReturnType<typeof loadSegmentHasher> | undefined;
  const hereAt = async (bytes: Uint8Array, segments: readonly RootSegment[]) => {
    const all = rootsAt(await (inline ??= loadSegmentHasher()), bytes, segments);
    return segments.map((_, i) => all.subarray(32 * i, 32 * i + 32));
  };

  return {
    async roots(bytes, segments) {
      if (closed) throw new LevityError('STORAGE_POOL_CLOSED', 'segment hashing pool is closed');
      const slot = options.threads > 0 ? pick() : undefined;
      if (!slot) return hereAt(bytes, segments);
      // Workers read shared memory in place; anything else is copied in once.
      let shared = bytes.buffer instanceof SharedArrayBuffer ? bytes.buffer : undefined;
      let base = bytes.byteOffset;
      if (!shared) {
        shared = new SharedArrayBuffer(bytes.length);
        new Uint8Array(shared).set(bytes);
        base = 0;
      }
      const reply = await slot.run({ kind: 'roots', buffer: shared, segments: segments.map((segment) => ({ ...segment, offset: base + segment.offset })) });
      if ('error' in reply) throw new LevityError('STORAGE_HASHING_FAILED', reply.error);
      const all = new Uint8Array(reply.roots);
      return segments.map((_, i) => all.subarray(32 * i, 32 * i + 32));
    },
    warm: fill,
    async close() {
      closed = true;
      await Promise.all(slots.splice(0).map((slot) => slot.terminate()));
    },
  };
}
