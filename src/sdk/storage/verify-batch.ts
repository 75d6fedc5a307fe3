/**
 * The download check for a binary segment batch: the frame must be the batch that was asked
 * for, and every segment in it must prove itself against the file root (verifySegment, the
 * node's own checks). Runs wherever it is called: a worker thread or the main one.
 */
import type { Hex } from 'viem';
import { UpstreamError } from '../../protocol/errors.ts';
import { batchSegment, decodeSegmentBatch, verifySegment } from '../../protocol/storage/index.ts';
import type { Keccak, SegmentHasher } from '../../protocol/storage/index.ts';
import { StorageClientErrorCode } from './node-rpc.ts';

export type BatchExpectation = { root: Hex; fileSize: number; first: number; count: number };

export type VerifiedBatch = {
  /** Root of each segment, 32 bytes apiece: proven lemma[0]s, for rebuilding the file root. */
  roots: Uint8Array<ArrayBuffer>;
  /** Where the segments' bytes start in the body; they run to its end. */
  dataOffset: number;
};

/** Throws UpstreamError (STORAGE_DOWNLOAD_INVALID) unless the batch is the one expected and every segment verifies. */
export function verifyBatch(keccak: Keccak, hasher: SegmentHasher, zero: readonly Uint8Array[], body: Uint8Array, expect: BatchExpectation): VerifiedBatch {
  const invalid = (message: string) => new UpstreamError(StorageClientErrorCode.downloadInvalid, message, { meta: { ...expect } });
  let batch;
  try {
    batch = decodeSegmentBatch(body);
  } catch (error) {
    throw invalid(`malformed segment batch: ${(error as Error).message}`);
  }
  if (batch.root.toLowerCase() !== expect.root.toLowerCase()) throw invalid(`batch is for root ${batch.root}, not ${expect.root}`);
  if (batch.fileSize !== expect.fileSize) throw invalid(`batch is for a file of ${batch.fileSize} bytes, not ${expect.fileSize}`);
  if (batch.first !== expect.first || batch.count !== expect.count) {
    throw invalid(`batch holds segments ${batch.first}+${batch.count}, not ${expect.first}+${expect.count}`);
  }
  const roots = new Uint8Array(32 * batch.count);
  for (let k = 0; k < batch.count; k++) {
    const segmentRoot = (data: Uint8Array, chunks: number) => {
      const root = hasher.segmentRoot(data, chunks);
      roots.set(root, 32 * k);
      return root;
    };
    try {
      verifySegment(keccak, { root: expect.root, data: batchSegment(batch, k), index: batch.first + k, proof: batch.proofs[k]!, fileSize: expect.fileSize, zero, segmentRoot });
    } catch (error) {
      throw invalid(`segment ${batch.first + k} failed verification: ${(error as Error).message}`);
    }
  }
  return { roots, dataOffset: batch.data.byteOffset - body.byteOffset };
}
