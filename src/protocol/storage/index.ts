/** 0G log-storage rules: padding, the file Merkle tree, segment proofs and flow placement. */
export { loadKeccak, keccakFrom } from './keccak.ts';
export type { Keccak } from './keccak.ts';
export {
  CHUNK_SIZE,
  CHUNKS_PER_SEGMENT,
  SEGMENT_HEIGHT,
  SEGMENT_SIZE,
  EMPTY_CHUNK_HASH,
  ZERO_HASH_COUNT,
  zeroHashes,
  zeroTable,
} from './constants.ts';
export { toHex, nodeBytes, isHash32, equalBytes } from './bytes.ts';
export type { Hex, NodeValue } from './bytes.ts';
export { StorageErrorCode } from './errors.ts';
export {
  assertFileSize,
  nextPow2,
  chunkCount,
  paddedChunkCount,
  segmentCount,
  paddedSegmentCount,
  lastSegmentChunkCount,
  segmentChunkCount,
  segmentDataLength,
  submissionHeights,
  sectorCount,
} from './padding.ts';
export { treeLevels, treeRoot, segmentRoot, foldNodes, createFileHasher, fileTree } from './merkle.ts';
export type { FileTree, FileHasher, FileHasherOptions, Submission, SubmissionNode } from './merkle.ts';
export { segmentProof, segmentProver, verifySegment } from './proof.ts';
export type { SegmentProof, VerifySegmentParameters } from './proof.ts';
export { submissionRoot, flowPlacement } from './submission.ts';
export type { FlowPlacement, SubmissionNodeInput } from './submission.ts';
export { loadSegmentHasher, keccakSegmentHasher, compileSegmentModule, simdSegmentHasher, SEGMENTS_PER_CALL } from './segment-hasher.ts';
export type { CompiledModule, SegmentHasher } from './segment-hasher.ts';
export {
  SEGMENT_BATCH_CONTENT_TYPE,
  MAX_BATCH_SEGMENTS,
  SegmentBatchErrorCode,
  batchDataLength,
  batchSegment,
  encodeBatchHead,
  encodeSegmentBatch,
  decodeSegmentBatch,
} from './segment-batch.ts';
export type { SegmentBatch } from './segment-batch.ts';
export { FILE_VECTORS, PROOF_VECTOR, vectorData } from './vectors.ts';
export type { FileVector } from './vectors.ts';
