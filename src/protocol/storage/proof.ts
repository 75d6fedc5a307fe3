/**
 * Segment proofs against a file root (spec storage.md §4.5) and the checks a storage node runs
 * on an uploaded segment before accepting it (§5 steps 5–7). Failure messages are the Rust
 * node's, word for word, because 0G clients match on them.
 */
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, SEGMENT_HEIGHT, zeroTable } from './constants.ts';
import { equalBytes, nodeBytes, toHex } from './bytes.ts';
import type { Hex, NodeValue } from './bytes.ts';
import { StorageErrorCode, storageError } from './errors.ts';
import type { Keccak } from './keccak.ts';
import { segmentRoot, treeLevels } from './merkle.ts';
import { assertFileSize, nextPow2, paddedChunkCount, segmentCount, segmentDataLength } from './padding.ts';

/**
 * The SDK's proof shape: `lemma = [segmentRoot, siblings bottom→top…, fileRoot]`, `path[j]` true
 * when the running node is the left child. A one-segment file has `lemma = [fileRoot]`, `path = []`.
 */
export type SegmentProof = { lemma: Hex[]; path: boolean[] };

export type VerifySegmentParameters = {
  /** The file root the segment claims to belong to (`seg.root`). */
  root: NodeValue;
  data: Uint8Array;
  index: number;
  proof: SegmentProof;
  fileSize: number;
  /** ZERO_HASHES, as from `zeroHashes(keccak)`; computed once per Keccak when left out. */
  zero?: readonly Uint8Array[];
  /**
   * How to compute the root of the segment's bytes (a faster hasher, or one computed earlier
   * in parallel); it must equal `segmentRoot(keccak, data, paddedChunks)`. Default: that.
   */
  segmentRoot?: (data: Uint8Array, paddedChunks: number) => Uint8Array;
};

/**
 * A prover over one file's segment roots: builds the tree once, then answers each index by
 * reading siblings off its levels, so proving every segment costs one tree, not one per proof.
 */
export function segmentProver(keccak: Keccak, segmentRoots: readonly Uint8Array[]): (index: number) => SegmentProof {
  const levels = treeLevels(keccak, segmentRoots);
  const rootHex = toHex(levels[levels.length - 1]![0]!);
  return (index) => {
    if (!Number.isInteger(index) || index < 0 || index >= segmentRoots.length) {
      throw storageError(StorageErrorCode.indexOutOfBound, 'index out of bound', `segment ${index} of ${segmentRoots.length}`, {
        param: 'index',
      });
    }
    if (levels.length === 1) return { lemma: [rootHex], path: [] };
    const lemma: Hex[] = [toHex(segmentRoots[index]!)];
    const path: boolean[] = [];
    let position = index;
    for (let depth = 0; depth < levels.length - 1; depth++) {
      const level = levels[depth]!;
      if (position % 2 === 1) {
        lemma.push(toHex(level[position - 1]!));
        path.push(false);
      } else if (position + 1 < level.length) {
        lemma.push(toHex(level[position + 1]!));
        path.push(true);
      } // else: a trailing odd node is promoted and contributes no sibling.
      position = Math.floor(position / 2);
    }
    lemma.push(rootHex);
    return { lemma, path };
  };
}

/** The proof of segment `index`; use `segmentProver` when proving many segments of one file. */
export function segmentProof(keccak: Keccak, segmentRoots: readonly Uint8Array[], index: number): SegmentProof {
  return segmentProver(keccak, segmentRoots)(index);
}

const invalidProof = (details: string) =>
  storageError(StorageErrorCode.invalidProof, 'invalid proof', details, { param: 'proof' });
const validationFailed = (details: string) =>
  storageError(StorageErrorCode.invalidProof, 'validation failed', details, { param: 'proof' });
const invalidDataLength = (details: string) =>
  storageError(StorageErrorCode.invalidDataLength, 'invalid data length', details, { param: 'data' });

/**
 * Accepts an uploaded segment or throws InvalidInputError with the node's message. The order
 * matters and follows the node: data length, index bound, length rule, proof format, segment
 * root from data, position, hashes, both lemma ends, then the rear-padding siblings.
 */
export function verifySegment(keccak: Keccak, params: VerifySegmentParameters): void {
  const { data, index, proof, fileSize } = params;
  assertFileSize(fileSize);
  if (data.length === 0 || data.length % CHUNK_SIZE !== 0) {
    throw invalidDataLength(`${data.length} bytes is not a positive multiple of ${CHUNK_SIZE}`);
  }
  // Step 5: against the data segments, the ones an uploader sends.
  const dataSegments = segmentCount(fileSize);
  const expectedLength = segmentDataLength(fileSize, index); // throws "index out of bound"
  if (data.length !== expectedLength) throw invalidDataLength(`segment ${index} must be ${expectedLength} bytes, got ${data.length}`);

  // Step 6: against the padded segments, the leaves of the file tree.
  const padded = paddedChunkCount(fileSize);
  const proofSegments = Math.ceil(padded / CHUNKS_PER_SEGMENT);
  const lemma = parseProof(proof);
  const path = proof.path;
  const root = nodeBytes(params.root);
  if (!root) throw invalidProof('root is not a 32-byte hash');
  const segmentChunks = index === proofSegments - 1 ? padded % CHUNKS_PER_SEGMENT || CHUNKS_PER_SEGMENT : CHUNKS_PER_SEGMENT;
  const expectedRoot = params.segmentRoot ? params.segmentRoot(data, segmentChunks) : segmentRoot(keccak, data, segmentChunks);

  let left = proofSegments;
  let position = 0;
  for (let i = path.length - 1; i >= 0; i--) {
    const sub = nextPow2(left) / 2;
    if (path[i]) {
      left = sub;
    } else {
      position += sub;
      left -= sub;
    }
  }
  if (left !== 1 || position !== index) throw validationFailed(`proof is for position ${position}, not segment ${index}`);

  let running = lemma[0]!;
  for (let j = 0; j < path.length; j++) {
    const sibling = lemma[j + 1]!;
    running = path[j] ? keccak.hashPair(running, sibling) : keccak.hashPair(sibling, running);
  }
  const lemmaRoot = lemma[lemma.length - 1]!;
  if (!equalBytes(running, lemmaRoot)) throw validationFailed('proof hashes do not lead to the lemma root');
  if (!equalBytes(lemma[0]!, expectedRoot)) throw validationFailed('lemma[0] is not the root of the segment data');
  if (!equalBytes(lemmaRoot, root)) throw validationFailed('lemma root is not the file root');

  // Step 7: a sibling that covers only padding segments must be the zero subtree of its size.
  const zero = params.zero ?? zeroTable(keccak);
  left = proofSegments;
  position = 0;
  for (let i = path.length - 1, step = 0; i >= 0; i--, step++) {
    const sub = nextPow2(left) / 2;
    if (!path[i]) {
      position += sub;
      left -= sub;
      continue;
    }
    left = sub;
    if (position + sub < dataSegments) continue;
    const height = log2(sub) + SEGMENT_HEIGHT;
    // A caller's table that is too short must not turn a valid proof into a padding error.
    const expected = zero[height] ?? zeroTable(keccak)[height];
    const sibling = lemma[lemma.length - 2 - step]!;
    if (!expected || !equalBytes(sibling, expected)) {
      throw storageError(StorageErrorCode.invalidPadding, 'invalid proof node value in the padding range', `sibling ${toHex(sibling)} of ${sub} padding segments at ${position + sub}`, {
        param: 'proof',
      });
    }
  }
}

/** Lemma bytes, after checking the shape the node requires (`invalid proof` otherwise). */
function parseProof(proof: SegmentProof): Uint8Array[] {
  const { lemma, path } = proof as { lemma: unknown; path: unknown };
  if (!Array.isArray(lemma) || !Array.isArray(path)) throw invalidProof('lemma and path must be arrays');
  if (!path.every((step) => typeof step === 'boolean')) throw invalidProof('path must hold booleans');
  const expected = path.length === 0 ? 1 : path.length + 2;
  if (lemma.length !== expected) throw invalidProof(`lemma has ${lemma.length} nodes, path needs ${expected}`);
  return lemma.map((node: unknown) => {
    const bytes = typeof node === 'string' ? nodeBytes(node as Hex) : undefined;
    if (!bytes) throw invalidProof('lemma nodes must be 32-byte hex');
    return bytes;
  });
}

function log2(pow2: number): number {
  let height = 0;
  while (2 ** height < pow2) height++;
  return height;
}
