/**
 * A pool of encoder threads: per blob the KZG commitment (~50 ms of CPU), the 128 cells and proofs (~220 ms), or
 * both. Every worker loads the trusted setup with the first work, in parallel, and takes jobs as soon as it is
 * ready, so the first blob waits for one load, not for all of them.
 *
 * Commitment jobs go before cell jobs: a dispersal needs every commitment to know its data root (and with it which
 * node custodies which cell) before any cell can be sent, while cells can wait. Each worker holds up to `depth` jobs
 * (the next one is posted before the current one ends), so a main thread busy verifying or writing cells for a
 * while never leaves an encoder idle; jobs beyond that wait here, in priority then FIFO order.
 *
 * A worker that dies rejects the job it was running (DA_ENCODER_CRASHED), hands the jobs it had not started back to
 * the queue, and is replaced; workers that keep dying before they are ready are not replaced forever: after
 * MAX_START_FAILURES in a row with none left, the pool fails (DA_ENCODER_UNAVAILABLE). Idle workers are unref'd, so
 * a pool with nothing to do never holds the process open.
 *
 * A busy worker is never terminated: Worker.terminate() while c-kzg is inside computeCellsAndKzgProofs makes the
 * addon throw a C++ Napi::Error nobody catches, and std::terminate aborts the whole process (seen with c-kzg 4.1.0
 * on Node 24). close() therefore rejects the jobs at once, raises a shared flag that makes workers skip the jobs
 * they hold but have not started, and lets each busy worker finish its blob (≤ ~250 ms) before terminating it.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { InvalidInputError, LevityError, UpstreamError } from '../protocol/errors.ts';
import { BYTES_PER_BLOB, BYTES_PER_CELL, BYTES_PER_COMMITMENT, BYTES_PER_PROOF, CELLS_PER_BLOB } from '../protocol/da/constants.ts';
import type { EncodeJobKind, EncodeRequest, EncoderReply } from './encoder-worker.ts';

export type BlobCells = {
  /** 128 cells of 2048 bytes; cells 0..63 are the blob itself. */
  cells: Uint8Array[];
  /** 128 proofs of 48 bytes, one per cell. */
  proofs: Uint8Array[];
};

export type EncodedBlob = BlobCells & {
  /** 48-byte KZG commitment. */
  commitment: Uint8Array;
};

export type EncoderPoolOptions = {
  /** Worker threads; 0 or absent = one per core (os.availableParallelism()). */
  threads?: number;
  /** Jobs handed to one worker at a time (the running one plus those queued behind it); default 2. */
  depth?: number;
};

export type EncoderPoolDeps = {
  /** Starts one worker; tests wrap it to reach the workers. */
  spawnWorker?: () => Worker;
};

export type EncodeOptions = {
  /**
   * A blob in a SharedArrayBuffer is read in place by the worker (no copy at all, however many jobs use it): the
   * caller must leave it unchanged until its jobs are done.
   *
   * Hand the blob's memory to the pool instead of copying it (the caller's array is detached afterwards). Only
   * taken when the array owns its whole ArrayBuffer, as blobs from payloadToBlobs and the blob packer do.
   */
  transfer?: boolean;
};

/** CPU time the workers spent in c-kzg since the pool started (the benchmark's profile); encodeBlob jobs count as cells. */
export type EncoderStats = { commitJobs: number; cellJobs: number; commitMs: number; cellsMs: number };

export type EncoderPool = {
  readonly threads: number;
  /** Commitment, cells and proofs in one job. */
  encodeBlob(blob: Uint8Array, options?: EncodeOptions): Promise<EncodedBlob>;
  /** The commitment alone; queued ahead of every cells job. */
  commitBlob(blob: Uint8Array, options?: EncodeOptions): Promise<Uint8Array>;
  /** The cells and proofs alone. */
  computeCells(blob: Uint8Array, options?: EncodeOptions): Promise<BlobCells>;
  /** Resolves once every worker has loaded the trusted setup (for benchmarks and warm starts). */
  ready(): Promise<void>;
  /** Jobs waiting for a worker plus jobs being encoded. */
  readonly pending: number;
  stats(): EncoderStats;
  /** Rejects queued and in-flight jobs (DA_ENCODER_CLOSED) and terminates every worker. */
  close(): Promise<void>;
};

export const MAX_START_FAILURES = 3;
export const DEFAULT_ENCODER_DEPTH = 2;
export const ENCODER_THREAD_NAME = 'da-encoder';

const WORKER_URL = new URL('./encoder-worker.ts', import.meta.url);

/** Splits a packed result into the commitment and the per-cell views (no copy). */
function unpackEncoded(reply: Extract<EncoderReply, { type: 'done' }>): { commitment?: Uint8Array; cells?: Uint8Array[]; proofs?: Uint8Array[] } {
  const { packed } = reply;
  let at = 0;
  const take = (length: number) => packed.subarray(at, (at += length));
  const commitment = reply.commitment ? take(BYTES_PER_COMMITMENT) : undefined;
  if (!reply.cells) return { ...(commitment ? { commitment } : {}) };
  const cells = Array.from({ length: CELLS_PER_BLOB }, () => take(BYTES_PER_CELL));
  const proofs = Array.from({ length: CELLS_PER_BLOB }, () => take(BYTES_PER_PROOF));
  return { ...(commitment ? { commitment } : {}), cells, proofs };
}

type Unpacked = ReturnType<typeof unpackEncoded>;

type Job = {
  id: number;
  kind: EncodeJobKind;
  blob: Uint8Array;
  resolve: (result: Unpacked) => void;
  reject: (error: unknown) => void;
};

type Slot = { worker: Worker; ready: boolean; jobs: Job[]; error: unknown; idle?: () => void };

export function createEncoderPool(options: EncoderPoolOptions = {}, deps: EncoderPoolDeps = {}): EncoderPool {
  const threads = options.threads && options.threads >= 1 ? Math.floor(options.threads) : availableParallelism();
  const depth = options.depth && options.depth >= 1 ? Math.floor(options.depth) : DEFAULT_ENCODER_DEPTH;
  // Named so a profile (top -H, /proc/<pid>/task/*/comm) tells encoder CPU from the rest.
  const spawnWorker = deps.spawnWorker ?? (() => new Worker(WORKER_URL, { name: ENCODER_THREAD_NAME }));
  const slots = new Set<Slot>();
  // Commitments first (see the file comment), then everything else, each in FIFO order.
  const urgent: Job[] = [];
  const queue: Job[] = [];
  const cancel = new Int32Array(new SharedArrayBuffer(4));
  const totals: EncoderStats = { commitJobs: 0, cellJobs: 0, commitMs: 0, cellsMs: 0 };
  let readyWaiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  let nextId = 1;
  let startFailures = 0;
  let failure: LevityError | undefined;
  let closing: Promise<void> | undefined;

  const closedError = () => new LevityError('DA_ENCODER_CLOSED', 'The encoder pool is closed');
  const queueFor = (job: Job) => (job.kind === 'commit' ? urgent : queue);
  const waiting = () => urgent.length + queue.length;

  const start = (): void => {
    const slot: Slot = { worker: spawnWorker(), ready: false, jobs: [], error: undefined };
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
      // A worker answers its jobs in the order they were posted.
      const at = slot.jobs.findIndex((job) => job.id === reply.id);
      const job = at >= 0 ? slot.jobs.splice(at, 1)[0] : undefined;
      if (slot.jobs.length === 0) slot.idle?.();
      if (job) {
        if (reply.type === 'done') {
          if (reply.commitment) totals.commitJobs++;
          if (reply.cells) totals.cellJobs++;
          if (job.kind === 'commit') totals.commitMs += reply.ms;
          else totals.cellsMs += reply.ms;
          job.resolve(unpackEncoded(reply));
        } else if (reply.code === 'DA_BLOB_MALFORMED') {
          job.reject(new InvalidInputError(reply.code, 'The blob cannot be encoded', { details: reply.message }));
        } else if (reply.code === 'DA_ENCODER_CLOSED') {
          job.reject(closedError());
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
    const [running, ...notStarted] = slot.jobs;
    slot.jobs = [];
    running?.reject(
      new UpstreamError('DA_ENCODER_CRASHED', 'An encoder worker died while encoding a blob', {
        details: reason,
        meta: { exitCode },
        cause: slot.error,
      }),
    );
    // The jobs queued behind the crashed one never ran: they go back to the front, in their order.
    for (const job of notStarted.reverse()) queueFor(job).unshift(job);
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
    for (const job of [...urgent.splice(0), ...queue.splice(0)]) job.reject(error);
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
    // Fill the emptiest workers first, one job per round, so both cores start at once.
    for (let held = 0; held < depth && waiting() > 0; held++) {
      for (const slot of slots) {
        if (waiting() === 0) break;
        if (!slot.ready || slot.jobs.length > held) continue;
        const job = (urgent.length > 0 ? urgent : queue).shift()!;
        slot.jobs.push(job);
        // Posted as a copy (128 KiB, ~20 µs) unless it is in shared memory, never transferred: if this worker dies,
        // the jobs it has not started yet go to another one, and they need their blob for that.
        const request: EncodeRequest = { id: job.id, kind: job.kind, blob: job.blob, cancel };
        slot.worker.postMessage(request);
      }
    }
    // Keep the process alive exactly while there is work or someone awaits ready(): an awaited promise must not be
    // dropped by an event loop that thinks it is empty.
    const busy = waiting() > 0 || readyWaiters.length > 0 || [...slots].some((slot) => slot.jobs.length > 0);
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

  const submit = (kind: EncodeJobKind, blob: Uint8Array, encodeOptions: EncodeOptions = {}) => {
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
    // The pool keeps the blob until its job is done: shared memory as it is (every post of it is then free), else
    // the caller's memory (detaching the caller's array, no copy) or a private copy.
    const own =
      blob.buffer instanceof SharedArrayBuffer
        ? blob
        : encodeOptions.transfer && owns && blob.buffer instanceof ArrayBuffer
          ? new Uint8Array(structuredClone(blob.buffer, { transfer: [blob.buffer] }))
          : blob.slice();
    startOnce();
    return new Promise<Unpacked>((resolve, reject) => {
      const job: Job = { id: nextId++, kind, blob: own, resolve, reject };
      queueFor(job).push(job);
      dispatch();
    });
  };

  return {
    threads,
    get pending() {
      return waiting() + [...slots].reduce((sum, slot) => sum + slot.jobs.length, 0);
    },
    async encodeBlob(blob, encodeOptions) {
      const reply = await submit('encode', blob, encodeOptions);
      return { commitment: reply.commitment!, cells: reply.cells!, proofs: reply.proofs! };
    },
    async commitBlob(blob, encodeOptions) {
      return (await submit('commit', blob, encodeOptions)).commitment!;
    },
    async computeCells(blob, encodeOptions) {
      const reply = await submit('cells', blob, encodeOptions);
      return { cells: reply.cells!, proofs: reply.proofs! };
    },
    stats: () => ({ ...totals, commitMs: Math.round(totals.commitMs), cellsMs: Math.round(totals.cellsMs) }),
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
        Atomics.store(cancel, 0, 1);
        for (const job of [...urgent.splice(0), ...queue.splice(0)]) job.reject(error);
        for (const waiter of readyWaiters) waiter.reject(error);
        readyWaiters = [];
        const stopping = [...slots].map(async (slot) => {
          if (slot.jobs.length > 0) {
            for (const job of slot.jobs) {
              job.reject(error);
              job.resolve = job.reject = () => {}; // its late reply is dropped
            }
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
