/**
 * The binary half of a download, from Levity nodes: segments come in batches of 16 with their
 * proofs, each batch is verified on a worker thread (or here, while workers load) while the next
 * ones are in flight, and lands with one positional write. A batch that fails at one node (an
 * error, missing data, or bytes that do not verify) is asked of the next.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Hex } from 'viem';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { batchDataLength, segmentCount, SEGMENT_SIZE, zeroTable } from '../../protocol/storage/index.ts';
import type { Keccak, SegmentHasher } from '../../protocol/storage/index.ts';
import { createBufferPool } from '../../protocol/storage/buffer-pool.ts';
import { getSegmentBatch } from './levity-node.ts';
import { forEachLimited, StorageClientErrorCode } from './node-rpc.ts';
import { jobId } from './storage-pool.ts';
import type { StoragePool } from './storage-pool.ts';
import { verifyBatch } from './verify-batch.ts';
import type { BatchExpectation } from './verify-batch.ts';

export type BatchSource = { url: string; seq: number };

export type DownloadBatchesParameters = {
  sources: BatchSource[];
  root: Hex;
  size: number;
  handle: FileHandle;
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
/** Flush what is written every so often, so the final fsync has little left to do. */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

type Verified = { roots: Uint8Array; dataOffset: number };
type Body = Uint8Array<ArrayBufferLike>;

export async function downloadBatches(p: DownloadBatchesParameters): Promise<void> {
  const count = segmentCount(p.size);
  const batches = Math.ceil(count / DOWNLOAD_BATCH_SEGMENTS);
  const zero = zeroTable(p.keccak);
  let done = 0;
  let unsynced = 0;
  let syncing: Promise<void> = Promise.resolve();
  let syncFailure: unknown;
  p.onProgress?.({ done: 0, total: p.size });

  /** A loaded idle worker, else (all busy) the least busy one, else (none loaded yet) this thread. */
  const verify = async (body: Body, expect: BatchExpectation): Promise<Verified> => {
    const here = () => verifyBatch(p.keccak, p.hasher, zero, body, expect);
    const worker = p.pool?.readyIdle() ?? p.pool?.leastBusy();
    if (!worker || !(body.buffer instanceof SharedArrayBuffer)) return here();
    const job = { kind: 'verify', id: jobId(), body: body.buffer, offset: body.byteOffset, length: body.length, expect } as const;
    // A worker that died mid-job says nothing about the bytes: check them here instead.
    const reply = await worker.run(job, []).catch(() => undefined);
    if (!reply) return here();
    if ('error' in reply) throw new UpstreamError(StorageClientErrorCode.downloadInvalid, reply.error, { meta: { ...expect } });
    return { roots: new Uint8Array(reply.roots), dataOffset: reply.dataOffset ?? 0 };
  };

  await forEachLimited(batches, p.concurrency, async (b) => {
    const first = b * DOWNLOAD_BATCH_SEGMENTS;
    const n = Math.min(DOWNLOAD_BATCH_SEGMENTS, count - first);
    const { body, verified } = await fetchBatch(p, b, first, n, verify);
    // Only the file's own bytes: the last chunk's zero padding stays out of it.
    const length = Math.min(batchDataLength(p.size, first, n), p.size - first * SEGMENT_SIZE);
    try {
      await writeAll(p.handle, body.subarray(verified.dataOffset, verified.dataOffset + length), first * SEGMENT_SIZE);
    } finally {
      release(body);
    }
    for (let k = 0; k < n; k++) p.roots[first + k] = verified.roots.subarray(32 * k, 32 * k + 32);
    done += length;
    unsynced += length;
    if (unsynced >= SYNC_EVERY_BYTES) {
      unsynced = 0;
      // Kept off the lanes' path; a failure is reported at the end (and never left unhandled).
      syncing = syncing
        .then(() => p.handle.datasync())
        .catch((error: unknown) => {
          syncFailure ??= error;
        });
    }
    p.onProgress?.({ done, total: p.size });
  });
  await syncing;
  if (syncFailure !== undefined) throw syncFailure;
}

// Response bodies land in shared buffers that workers verify in place, reused batch after batch.
const buffers = createBufferPool({ maxFree: 16 });
const release = (body: Body) => {
  if (body.buffer instanceof SharedArrayBuffer) buffers.give(body as Uint8Array<SharedArrayBuffer>);
};

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
      body = await getSegmentBatch(source.url, source.seq, first, n, p.timeoutMs, (length) => buffers.take(length));
    } catch (error) {
      failures.push(`${source.url}: ${errorMessage(error)}`);
      continue;
    }
    try {
      return { body, verified: await verify(body, { root: p.root, fileSize: p.size, first, count: n }) };
    } catch (error) {
      release(body);
      tampered = true;
      failures.push(`${source.url}: ${errorMessage(error)}`);
    }
  }
  const code = tampered ? StorageClientErrorCode.downloadInvalid : StorageClientErrorCode.segmentUnavailable;
  const what = tampered ? 'failed verification at every node' : 'are not available from any node';
  throw new UpstreamError(code, `segments ${first}..${first + n - 1} of ${p.root} ${what}`, { meta: { root: p.root, first, count: n, failures }, details: failures.join('; ') });
}

async function writeAll(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  for (let written = 0; written < data.length; ) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}
