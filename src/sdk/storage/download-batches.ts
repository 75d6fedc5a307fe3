/**
 * The binary half of a download, from Levity nodes: segments come in batches (of 16, smaller at
 * either end: batch-plan.ts) with their proofs. Each batch's segment roots are computed on a
 * worker thread (or here, while workers load) and its proofs checked here, while the next ones
 * are in flight; it lands with one positional write. A batch that fails at one node (an error,
 * missing data, or bytes that do not verify) is asked of the next.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Hex } from 'viem';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { batchDataLength, segmentCount, SEGMENT_SIZE, zeroTable } from '../../protocol/storage/index.ts';
import type { Keccak, SegmentHasher } from '../../protocol/storage/index.ts';
import { DIRECT_ALIGNMENT, isAligned, releaseBatch, takeBatch } from './batch-buffers.ts';
import { batchPlan } from './batch-plan.ts';
import { createFileWriter } from './file-writer.ts';
import { getSegmentBatch } from './levity-node.ts';
import { forEachLimited, StorageClientErrorCode } from './node-rpc.ts';
import type { StoragePool } from './storage-pool.ts';
import { checkBatch, openBatch } from './verify-batch.ts';
import type { BatchExpectation } from './verify-batch.ts';

export type BatchSource = { url: string; seq: number };

export type DownloadBatchesParameters = {
  sources: BatchSource[];
  root: Hex;
  size: number;
  handle: FileHandle;
  /** The file `handle` is open on, which data aligned in memory is also written to directly. */
  path: string;
  /** Filled with each data segment's proven root, by index. */
  roots: Uint8Array[];
  concurrency: number;
  timeoutMs: number;
  keccak: Keccak;
  hasher: SegmentHasher;
  /** Workers to verify on; undefined verifies on this thread only. */
  pool: StoragePool | undefined;
  onProgress?: (progress: { done: number; total: number }) => void;
};

export const DOWNLOAD_BATCH_SEGMENTS = 16;
/**
 * Flush what is written every so often (on the thread pool, while later batches hash), so the
 * final fsync has little left to do: it waits on the device, past the end of the hashing.
 */
const SYNC_EVERY_BYTES = 8 * 1024 * 1024;
/** Verified bytes that may wait for the disk while their lanes fetch the next batches. */
const MAX_QUEUED_WRITE_BYTES = 16 * 1024 * 1024;

type Verified = { roots: Uint8Array; dataOffset: number };
type Body = Uint8Array<ArrayBufferLike>;

export async function downloadBatches(p: DownloadBatchesParameters): Promise<void> {
  const count = segmentCount(p.size);
  const plan = batchPlan(count, DOWNLOAD_BATCH_SEGMENTS);
  const zero = zeroTable(p.keccak);
  let done = 0;
  const writer = createFileWriter(p.handle, {
    maxQueuedBytes: MAX_QUEUED_WRITE_BYTES,
    syncEveryBytes: SYNC_EVERY_BYTES,
    directPath: p.path,
    directAlignment: DIRECT_ALIGNMENT,
  });
  p.onProgress?.({ done: 0, total: p.size });

  /**
   * The segments' roots on a loaded idle worker, else (all busy) the least busy one, else (none
   * loaded yet) here; every other check runs here, with those roots.
   */
  const verify = async (body: Body, expect: BatchExpectation): Promise<Verified> => {
    const opened = openBatch(body, expect);
    const worker = p.pool?.readyIdle() ?? p.pool?.leastBusy();
    let roots: Uint8Array | undefined;
    if (worker && body.buffer instanceof SharedArrayBuffer) {
      const segments = opened.segments.map((segment) => ({ ...segment, offset: body.byteOffset + segment.offset }));
      // A worker that died or erred says nothing about the bytes: they are hashed here instead.
      const reply = await worker.run({ kind: 'roots', buffer: body.buffer, segments }).catch(() => undefined);
      if (reply && 'roots' in reply) roots = new Uint8Array(reply.roots);
    }
    return checkBatch(p.keccak, p.hasher, zero, body, expect, opened, roots);
  };

  try {
    await forEachLimited(plan.length, p.concurrency, async (b) => {
      const { first, count: n } = plan[b]!;
      const { body, verified } = await fetchBatch(p, b, first, n, verify);
      // Only the file's own bytes: the last chunk's zero padding stays out of it.
      const length = Math.min(batchDataLength(p.size, first, n), p.size - first * SEGMENT_SIZE);
      for (let k = 0; k < n; k++) p.roots[first + k] = verified.roots.subarray(32 * k, 32 * k + 32);
      // The lane goes on to its next batch once this one is queued, not written.
      const data = body.subarray(verified.dataOffset, verified.dataOffset + length);
      const queued = writer.write(data, first * SEGMENT_SIZE, isAligned(body, verified.dataOffset), (ok) => {
        releaseBatch(body);
        if (!ok) return;
        done += length;
        p.onProgress?.({ done, total: p.size });
      });
      await queued.catch((error: unknown) => {
        releaseBatch(body);
        throw error;
      });
    });
  } catch (error) {
    // Nothing may still be writing when the caller closes and removes the file.
    await writer.drain().catch(() => undefined);
    throw error;
  }
  await writer.drain();
}

/** One verified batch, starting at a node picked by batch number so fetches spread over replicas. */
async function fetchBatch(
  p: DownloadBatchesParameters,
  b: number,
  first: number,
  n: number,
  verify: (body: Body, expect: BatchExpectation) => Promise<Verified>,
): Promise<{ body: Body; verified: Verified }> {
  const failures: string[] = [];
  let tampered = false;
  for (let attempt = 0; attempt < p.sources.length; attempt++) {
    const source = p.sources[(b + attempt) % p.sources.length]!;
    let body: Body;
    try {
      // Into a pooled shared buffer that a worker hashes in place, reused batch after batch, with
      // the data (after the header and proofs) aligned for a direct write to the file.
      const data = batchDataLength(p.size, first, n);
      const taken: Body[] = [];
      let got: Body | undefined;
      try {
        got = await getSegmentBatch(source.url, source.seq, first, n, p.timeoutMs, (length) => {
          const view = takeBatch(length, length - data);
          taken.push(view);
          return view;
        });
      } finally {
        // Buffers of a failed request (or of one that outgrew its buffer) go back to the pool.
        for (const view of taken) if (view.buffer !== got?.buffer || view.byteOffset !== got.byteOffset) releaseBatch(view);
      }
      body = got!;
    } catch (error) {
      failures.push(`${source.url}: ${errorMessage(error)}`);
      continue;
    }
    try {
      return { body, verified: await verify(body, { root: p.root, fileSize: p.size, first, count: n }) };
    } catch (error) {
      releaseBatch(body);
      tampered = true;
      failures.push(`${source.url}: ${errorMessage(error)}`);
    }
  }
  const code = tampered ? StorageClientErrorCode.downloadInvalid : StorageClientErrorCode.segmentUnavailable;
  const what = tampered ? 'failed verification at every node' : 'are not available from any node';
  throw new UpstreamError(code, `segments ${first}..${first + n - 1} of ${p.root} ${what}`, { meta: { root: p.root, first, count: n, failures }, details: failures.join('; ') });
}
