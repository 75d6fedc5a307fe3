/**
 * A pool of encoder threads (KZG commitment + 128 cells + proofs per blob, ~200 ms of CPU each). Every worker starts
 * loading the trusted setup at pool creation, in parallel, and takes jobs as soon as it is ready, so the first
 * blob waits for one load, not for all of them. Jobs queue in FIFO order while every worker is busy.
 *
 * A worker that dies rejects its in-flight job (DA_ENCODER_CRASHED) and is replaced; workers that keep dying before
 * they are ready are not replaced forever: after MAX_START_FAILURES in a row with none left, the pool fails
 * (DA_ENCODER_UNAVAILABLE). Idle workers are unref'd, so a pool with nothing to do never holds the process open.
 *
 * A busy worker is never terminated: Worker.terminate() while c-kzg is inside computeCellsAndKzgProofs makes the
 * addon throw a C++ Napi::Error nobody catches, and std::terminate aborts the whole process (seen with c-kzg 4.1.0
 * on Node 24). close() therefore rejects the jobs at once but lets each busy worker finish its blob (≤ ~250 ms)
 * before terminating it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidInputError, LevityError, UpstreamError } from '../protocol/errors.ts';
import { BYTES_PER_BLOB } from '../protocol/da/constants.ts';
import type { EncodeRequest, EncoderReply } from './encoder-worker.ts';

export type EncodedBlob = {
  /** 48-byte KZG commitment. */
  commitment: Uint8Array;
  /** 128 cells of 2048 bytes; cells 0..63 are the blob itself. */
  cells: Uint8Array[];
  /** 128 proofs of 48 bytes, one per cell. */
  proofs: Uint8Array[];
};

export type EncoderPoolOptions = {
  /** Worker threads; 0 or absent = one per core (os.availableParallelism()). */
  threads?: number;
};

export type EncoderPoolDeps = {
  /** Starts one worker; tests wrap it to reach the workers. */
  spawnWorker?: () => Worker;
};

export type EncodeOptions = {
  /**
   * Hand the blob's memory to the worker instead of copying it (the caller's array is detached afterwards). Only
   * taken when the array owns its whole ArrayBuffer, as blobs from payloadToBlobs and the blob packer do.
   */
  transfer?: boolean;
};

export type EncoderPool = {
  readonly threads: number;
  encodeBlob(blob: Uint8Array, options?: EncodeOptions): Promise<EncodedBlob>;
  /** Resolves once every worker has loaded the trusted setup (for benchmarks and warm starts). */
  ready(): Promise<void>;
  /** Jobs waiting for a worker plus jobs being encoded. */
  readonly pending: number;
  /** Rejects queued and in-flight jobs (DA_ENCODER_CLOSED) and terminates every worker. */
  close(): Promise<void>;
};

export const MAX_START_FAILURES = 3;

const WORKER_URL = new URL('./encoder-worker.ts', import.meta.url);

type Job = {
  id: number;
  blob: Uint8Array;
  resolve: (encoded: EncodedBlob) => void;
  reject: (error: unknown) => void;
};

type Slot = { worker: Worker; ready: boolean; job: Job | undefined; error: unknown; idle?: () => void };

export function createEncoderPool(options: EncoderPoolOptions = {}, deps: EncoderPoolDeps = {}): EncoderPool {
  const threads = options.threads && options.threads >= 1 ? Math.floor(options.threads) : availableParallelism();
  const spawnWorker = deps.spawnWorker ?? (() => new Worker(WORKER_URL));
  const slots = new Set<Slot>();
  const queue: Job[] = [];
  let readyWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let nextId = 1;
  let startFailures = 0;
  let failure: LevityError | undefined;
  let closing: Promise<void> | undefined;

  const closedError = () => new LevityError('DA_ENCODER_CLOSED', 'The encoder pool is closed');

  const start = (): void => {
    const slot: Slot = { worker: spawnWorker(), ready: false, job: undefined, error: undefined };
    slots.add(slot);
    slot.worker.unref();
    slot.worker.on('message', (reply: EncoderReply) => onReply(slot, reply));
    slot.worker.on('error', (error) => {
      slot.error = error;
    });
    slot.worker.on('exit', (exitCode) => onExit(slot, exitCode));
  };

  const onReply = (slot: Slot, reply: EncoderReply): void => {
    if (reply.type === 'ready') {
      slot.ready = true;
      startFailures = 0;
      settleReady();
    } else {
      const job = slot.job;
      slot.job = undefined;
      slot.idle?.();
      if (job && job.id === reply.id) {
        if (reply.type === 'done') {
          job.resolve({ commitment: reply.commitment, cells: reply.cells, proofs: reply.proofs });
        } else if (reply.code === 'DA_BLOB_MALFORMED') {
          job.reject(new InvalidInputError(reply.code, 'The blob cannot be encoded', { details: reply.message }));
        } else {
          job.reject(new UpstreamError(reply.code, 'An encoder worker failed', { details: reply.message }));
        }
      }
    }
    dispatch();
  };

  const onExit = (slot: Slot, exitCode: number): void => {
    slots.delete(slot);
    slot.idle?.();
    if (closing) return;
    const reason = slot.error instanceof Error ? slot.error.message : `exit code ${exitCode}`;
    slot.job?.reject(
      new UpstreamError('DA_ENCODER_CRASHED', 'An encoder worker died while encoding a blob', {
        details: reason,
        meta: { exitCode },
        cause: slot.error,
      }),
    );
    if (!slot.ready) startFailures++;
    if (startFailures < MAX_START_FAILURES) start();
    else if (slots.size === 0) {
      fail(
        new UpstreamError('DA_ENCODER_UNAVAILABLE', 'Encoder workers fail to start', {
          details: `${startFailures} in a row, the last: ${reason}`,
          cause: slot.error,
        }),
      );
    }
    settleReady();
    dispatch();
  };

  const fail = (error: LevityError): void => {
    failure = error;
    for (const job of queue.splice(0)) job.reject(error);
    for (const waiter of readyWaiters) waiter.reject(error);
    readyWaiters = [];
  };

  const settleReady = (): void => {
    const all = [...slots];
    const settled = all.length >= threads || startFailures >= MAX_START_FAILURES; // no replacement coming
    if (all.length === 0 || !settled || !all.every((slot) => slot.ready)) return;
    for (const waiter of readyWaiters) waiter.resolve();
    readyWaiters = [];
  };

  const dispatch = (): void => {
    for (const slot of slots) {
      if (queue.length === 0) break;
      if (!slot.ready || slot.job) continue;
      const job = queue.shift()!;
      slot.job = job;
      slot.worker.postMessage({ id: job.id, blob: job.blob } satisfies EncodeRequest, [job.blob.buffer as ArrayBuffer]);
    }
    // Keep the process alive exactly while there is work or someone awaits ready(): an awaited promise must not be
    // dropped by an event loop that thinks it is empty.
    const busy = queue.length > 0 || readyWaiters.length > 0 || [...slots].some((slot) => slot.job);
    for (const slot of slots) {
      if (busy) slot.worker.ref();
      else slot.worker.unref();
    }
  };

  // Workers (and their ~2.7 s trusted-setup load each) start with the first work, not with the
  // pool: a devnet that never disperses never pays for them.
  let started = false;
  const startOnce = (): void => {
    if (started) return;
    started = true;
    for (let i = 0; i < threads; i++) start();
  };

  return {
    threads,
    get pending() {
      return queue.length + [...slots].filter((slot) => slot.job).length;
    },
    encodeBlob(blob, encodeOptions = {}) {
      if (closing) return Promise.reject(closedError());
      if (failure) return Promise.reject(failure);
      if (!(blob instanceof Uint8Array) || blob.length !== BYTES_PER_BLOB) {
        return Promise.reject(
          new InvalidInputError('DA_BLOB_MALFORMED', `A blob must be ${BYTES_PER_BLOB} bytes`, {
            meta: { length: blob?.length },
          }),
        );
      }
      const owns = blob.byteOffset === 0 && blob.byteLength === blob.buffer.byteLength;
      // One copy at most: the worker gets either the caller's memory or a private copy, by transfer.
      const own = encodeOptions.transfer && owns && blob.buffer instanceof ArrayBuffer ? blob : blob.slice();
      startOnce();
      return new Promise<EncodedBlob>((resolve, reject) => {
        queue.push({ id: nextId++, blob: own, resolve, reject });
        dispatch();
      });
    },
    ready() {
      if (closing) return Promise.reject(closedError());
      if (failure) return Promise.reject(failure);
      startOnce();
      return new Promise<void>((resolve, reject) => {
        readyWaiters.push({ resolve, reject });
        settleReady();
        dispatch();
      });
    },
    close() {
      closing ??= (async () => {
        const error = closedError();
        for (const job of queue.splice(0)) job.reject(error);
        for (const waiter of readyWaiters) waiter.reject(error);
        readyWaiters = [];
        const stopping = [...slots].map(async (slot) => {
          if (slot.job) {
            slot.job.reject(error);
            slot.job.resolve = slot.job.reject = () => {}; // its late reply is dropped
            slot.worker.ref(); // finish the blob even if nothing else keeps the process up
            await new Promise<void>((resolve) => (slot.idle = resolve));
          }
          await slot.worker.terminate();
        });
        await Promise.all(stopping);
      })();
      return closing;
    },
  };
}
