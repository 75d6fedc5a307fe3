import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { BLS_MODULUS, BYTES_PER_BLOB } from '../protocol/da/constants.ts';
import { blobCommitment, computeCellsAndProofs } from '../protocol/da/kzg.ts';
import { payloadToBlobs } from '../protocol/da/payload-blobs.ts';
import { isLevityError } from '../protocol/errors.ts';
import { createEncoderPool, MAX_START_FAILURES, type EncoderPool } from './encoder-pool.ts';

const WORKER_URL = new URL('./encoder-worker.ts', import.meta.url);
const code = (expected: string) => (error: unknown) => isLevityError(error) && error.code === expected;

/** Starts real workers and keeps a handle on each, so a test can kill one. */
function spying(): { spawnWorker: () => Worker; workers: Worker[]; exited: Set<Worker> } {
  const workers: Worker[] = [];
  const exited = new Set<Worker>();
  return {
    workers,
    exited,
    spawnWorker: () => {
      const worker = new Worker(WORKER_URL);
      worker.on('exit', () => exited.add(worker));
      workers.push(worker);
      return worker;
    },
  };
}

describe('encoder pool', () => {
  const blobs = payloadToBlobs(new Uint8Array(randomBytes(4 * 126_976 - 100)));
  const spy = spying();
  let pool: EncoderPool;

  before(async () => {
    pool = createEncoderPool({ threads: 2 }, { spawnWorker: spy.spawnWorker });
    const t0 = performance.now();
    await pool.ready();
    console.log(`2 workers ready in ${(performance.now() - t0).toFixed(0)} ms`);
  });
  after(() => pool.close());

  it('encodes 4 blobs in parallel exactly like the single-thread code', async () => {
    assert.equal(blobs.length, 4);
    assert.equal(pool.threads, 2);
    const t0 = performance.now();
    const pending = blobs.map((blob) => pool.encodeBlob(blob));
    assert.equal(pool.pending, 4); // two encoding, two queued
    const encoded = await Promise.all(pending);
    console.log(`4 blobs on 2 threads: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(pool.pending, 0);
    for (const [i, blob] of blobs.entries()) {
      const { cells, proofs } = computeCellsAndProofs(blob);
      assert.deepEqual(encoded[i]!.commitment, blobCommitment(blob));
      assert.deepEqual(encoded[i]!.cells, cells);
      assert.deepEqual(encoded[i]!.proofs, proofs);
      assert.equal(blob.length, BYTES_PER_BLOB); // copied, not detached
    }
  });

  it('takes the caller’s memory only when asked to', async () => {
    const blob = blobs[0]!.slice();
    const encoded = await pool.encodeBlob(blob, { transfer: true });
    assert.equal(blob.byteLength, 0); // detached: it moved to the worker
    assert.deepEqual(encoded.cells.slice(0, 1)[0], blobs[0]!.subarray(0, 2048));
    const view = new Uint8Array(BYTES_PER_BLOB * 2).subarray(0, BYTES_PER_BLOB);
    await pool.encodeBlob(view, { transfer: true });
    assert.equal(view.byteLength, BYTES_PER_BLOB); // a view of a larger buffer is copied instead
  });

  it('reads a blob in shared memory in place, for as many jobs as use it', async () => {
    const shared = new Uint8Array(new SharedArrayBuffer(BYTES_PER_BLOB));
    shared.set(blobs[3]!);
    const [commitment, cells] = await Promise.all([pool.commitBlob(shared), pool.computeCells(shared, { transfer: true })]);
    assert.equal(shared.byteLength, BYTES_PER_BLOB); // shared memory is never detached
    assert.deepEqual(commitment, blobCommitment(blobs[3]!));
    assert.deepEqual(cells.proofs, computeCellsAndProofs(blobs[3]!).proofs);
  });

  it('refuses malformed blobs with a typed error and keeps working', async () => {
    await assert.rejects(pool.encodeBlob(new Uint8Array(100)), code('DA_BLOB_MALFORMED'));
    const nonCanonical = new Uint8Array(BYTES_PER_BLOB);
    nonCanonical.set(Buffer.from(BLS_MODULUS.toString(16).padStart(64, '0'), 'hex'), 32 * 5);
    await assert.rejects(pool.encodeBlob(nonCanonical), code('DA_BLOB_MALFORMED'));
    assert.equal((await pool.encodeBlob(blobs[1]!)).cells.length, 128);
    assert.equal(spy.workers.length, 2); // nobody crashed
  });

  it('terminates every worker on close and refuses work afterwards', async () => {
    const inFlight = assert.rejects(pool.encodeBlob(blobs[2]!), code('DA_ENCODER_CLOSED'));
    const queued = assert.rejects(pool.encodeBlob(blobs[3]!), code('DA_ENCODER_CLOSED'));
    const closing = assert.rejects(pool.encodeBlob(blobs[3]!), code('DA_ENCODER_CLOSED'));
    await pool.close();
    await Promise.all([inFlight, queued, closing]);
    await assert.rejects(pool.encodeBlob(blobs[2]!), code('DA_ENCODER_CLOSED'));
    assert.equal(spy.exited.size, spy.workers.length);
    await pool.close(); // idempotent
  });
});

describe('encoder pool priorities', () => {
  it('runs commitments ahead of queued cell jobs, with a next job always waiting in the worker', async () => {
    const blobs = payloadToBlobs(new Uint8Array(randomBytes(3 * 126_976 - 100)));
    const pool = createEncoderPool({ threads: 1, depth: 2 });
    try {
      await pool.ready();
      const order: string[] = [];
      const track = <T>(name: string, job: Promise<T>) => job.then((value) => (order.push(name), value));
      const cells = blobs.map((blob, i) => track(`cells ${i}`, pool.computeCells(blob)));
      const commitment = track('commit 2', pool.commitBlob(blobs[2]!));
      assert.equal(pool.pending, 4);
      const [encoded, commit] = await Promise.all([Promise.all(cells), commitment]);
      // cells 0 and 1 were already in the worker (depth 2); the commitment passes cells 2, which was waiting.
      assert.deepEqual(order, ['cells 0', 'cells 1', 'commit 2', 'cells 2']);
      assert.deepEqual(commit, blobCommitment(blobs[2]!));
      const reference = computeCellsAndProofs(blobs[1]!);
      assert.deepEqual(encoded[1]!.cells, reference.cells);
      assert.deepEqual(encoded[1]!.proofs, reference.proofs);
      const stats = pool.stats();
      assert.deepEqual([stats.commitJobs, stats.cellJobs], [1, 3]);
      assert.ok(stats.cellsMs > stats.commitMs && stats.commitMs > 0, JSON.stringify(stats));
    } finally {
      await pool.close();
    }
  });
});

describe('encoder pool failures', () => {
  it('rejects the job of a crashed worker and replaces the worker', async () => {
    // A worker that dies the way a JS-level crash does (process.exit in the thread) once it holds a job. Killing a
    // real worker from outside mid-job is not an option: see close() in encoder-pool.ts.
    const CRASHER = `
      const { parentPort } = require('node:worker_threads');
      parentPort.postMessage({ type: 'ready', loadMs: 0 });
      parentPort.on('message', () => process.exit(3));`;
    const spy = spying();
    let spawned = 0;
    const spawnWorker = () => (spawned++ === 0 ? new Worker(CRASHER, { eval: true }) : spy.spawnWorker());
    const pool = createEncoderPool({ threads: 1 }, { spawnWorker });
    try {
      const [blob] = payloadToBlobs(Uint8Array.of(1, 2, 3));
      const doomed = pool.encodeBlob(blob!);
      const queued = pool.encodeBlob(blob!);
      await assert.rejects(doomed, (error) => code('DA_ENCODER_CRASHED')(error) && /exit code 3/.test(String(error)));
      // The replacement loads the setup and serves what was queued.
      const encoded = await queued;
      assert.deepEqual(encoded.cells.slice(0, 64).map((cell) => cell.length), Array(64).fill(2048));
      assert.equal(spawned, 2);
    } finally {
      await pool.close();
    }
  });

  it('lets a busy worker finish before terminating it on close', async () => {
    const spy = spying();
    const pool = createEncoderPool({ threads: 1 }, { spawnWorker: spy.spawnWorker });
    await pool.ready();
    const busy = assert.rejects(pool.encodeBlob(new Uint8Array(BYTES_PER_BLOB)), code('DA_ENCODER_CLOSED'));
    await new Promise((resolve) => setTimeout(resolve, 30)); // inside c-kzg now
    await pool.close(); // would abort the process if it terminated the thread mid-call
    await busy;
    assert.equal(spy.exited.size, 1);
  });

  it('gives up after workers keep dying at start', async () => {
    let spawned = 0;
    const pool = createEncoderPool(
      { threads: 1 },
      {
        spawnWorker: () => {
          spawned++;
          return new Worker('throw new Error("no setup here")', { eval: true });
        },
      },
    );
    try {
      const job = pool.encodeBlob(new Uint8Array(BYTES_PER_BLOB));
      await assert.rejects(job, code('DA_ENCODER_UNAVAILABLE'));
      await assert.rejects(pool.ready(), code('DA_ENCODER_UNAVAILABLE'));
      await assert.rejects(pool.encodeBlob(new Uint8Array(BYTES_PER_BLOB)), code('DA_ENCODER_UNAVAILABLE'));
      assert.equal(spawned, MAX_START_FAILURES);
    } finally {
      await pool.close();
    }
  });
});
