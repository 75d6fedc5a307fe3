/**
 * The download check for a binary segment batch: the frame must be the batch that was asked
 * for, and every segment in it must prove itself against the file root (verifySegment, the
 * node's own checks). The costly part, each segment's root, may be computed elsewhere first (on
 * a hashing thread, as a node does for uploads): `openBatch` says which bytes to hash, and
 * `checkBatch` then runs every check with those roots, on the calling thread.
 */
import type { Hex } from 'viem';
import { UpstreamError } from '../../protocol/errors.ts';
import { batchSegment, decodeSegmentBatch, segmentChunkCount, SEGMENT_SIZE, verifySegment } from '../../protocol/storage/index.ts';
import type { Keccak, SegmentBatch, SegmentHasher } from '../../protocol/storage/index.ts';
import type { RootSegment } from './segment-root-jobs.ts';
import { StorageClientErrorCode } from './node-rpc.ts';

export type BatchExpectation = { root: Hex; fileSize: number; first: number; count: number };

export type VerifiedBatch = {
  /** Root of each segment, 32 bytes apiece: proven lemma[0]s, for rebuilding the file root. */
  roots: Uint8Array<ArrayBuffer>;
  /** Where the segments' bytes start in the body; they run to its end. */
  dataOffset: number;
};

export type OpenedBatch = {
  batch: SegmentBatch;
  /** Each segment's bytes (offsets within the body) and padded chunk count: what to hash. */
  segments: RootSegment[];
};

const invalid = (expect: BatchExpectation, message: string) => new UpstreamError(StorageClientErrorCode.downloadInvalid, message, { meta: { ...expect } });

/** Decodes `body` and checks it is the batch expected; throws UpstreamError (STORAGE_DOWNLOAD_INVALID) otherwise. */
export function openBatch(body: Uint8Array, expect: BatchExpectation): OpenedBatch {
  let batch;
  try {
    batch = decodeSegmentBatch(body);
  } catch (error) {
    throw invalid(expect, `malformed segment batch: ${(error as Error).message}`);
  }
  if (batch.root.toLowerCase() !== expect.root.toLowerCase()) throw invalid(expect, `batch is for root ${batch.root}, not ${expect.root}`);
  if (batch.fileSize !== expect.fileSize) throw invalid(expect, `batch is for a file of ${batch.fileSize} bytes, not ${expect.fileSize}`);
  if (batch.first !== expect.first || batch.count !== expect.count) {
    throw invalid(expect, `batch holds segments ${batch.first}+${batch.count}, not ${expect.first}+${expect.count}`);
  }
  const dataStart = batch.data.byteOffset - body.byteOffset;
  const segments = Array.from({ length: batch.count }, (_, k) => ({
    offset: dataStart + k * SEGMENT_SIZE,
    length: batchSegment(batch, k).length,
    paddedChunks: segmentChunkCount(batch.fileSize, batch.first + k),
  }));
  return { batch, segments };
}

/**
 * Every segment's checks, in the node's order. `precomputed[k]`, when given, is the root of
 * exactly `opened.segments[k]`; it stands in for hashing only for those bytes and that padding.
 */
export function checkBatch(
  keccak: Keccak,
  hasher: SegmentHasher,
  zero: readonly Uint8Array[],
  body: Uint8Array,
  expect: BatchExpectation,
  opened: OpenedBatch,
  precomputed?: Uint8Array,
): VerifiedBatch {
  const { batch, segments } = opened;
  const roots = new Uint8Array(32 * batch.count);
  for (let k = 0; k < batch.count; k++) {
    const data = batchSegment(batch, k);
    const known = precomputed?.subarray(32 * k, 32 * k + 32);
    const segmentRoot = (bytes: Uint8Array, chunks: number) => {
      const root = known && bytes === data && chunks === segments[k]!.paddedChunks ? known : hasher.segmentRoot(bytes, chunks);
      roots.set(root, 32 * k);
      return root;
    };
    try {
      verifySegment(keccak, { root: expect.root, data, index: batch.first + k, proof: batch.proofs[k]!, fileSize: expect.fileSize, zero, segmentRoot });
    } catch (error) {
      throw invalid(expect, `segment ${batch.first + k} failed verification: ${(error as Error).message}`);
    }
  }
  return { roots, dataOffset: batch.data.byteOffset - body.byteOffset };
}
