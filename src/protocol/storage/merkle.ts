/**
 * The 0G file Merkle tree (spec storage.md §4.3–4.4): keccak256 leaves over 256-byte chunks,
 * promote-odd parents, one root per padded segment, and the file root over the segment roots.
 * `createFileHasher` streams: it reads each byte once and hashes each node once, which is what
 * lets an uploader run near raw keccak speed (the 0G SDK hashes a file twice).
 */
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, SEGMENT_HEIGHT, SEGMENT_SIZE, zeroTable } from './constants.ts';
import { toHex } from './bytes.ts';
import type { Hex } from './bytes.ts';
import { StorageErrorCode, storageError } from './errors.ts';
import type { Keccak } from './keccak.ts';
import type { SegmentHasher } from './segment-hasher.ts';
import { assertFileSize, paddedChunkCount } from './padding.ts';
import { SubtreeStack } from './subtree-stack.ts';
import type { SubtreeNode } from './subtree-stack.ts';

export type SubmissionNode = { root: Hex; height: number };

/** What the Flow contract's `submit` takes (without tags and submitter). */
export type Submission = { length: number; nodes: SubmissionNode[] };

export type FileTree = {
  root: Uint8Array;
  rootHex: Hex;
  size: number;
  /** One root per padded segment, padding-only segments included: the leaves of the file tree. */
  segmentRoots: Uint8Array[];
  submission: Submission;
};

export type FileHasher = {
  /** Feeds the next bytes of the file; any split of the input gives the same tree. */
  update(bytes: Uint8Array): void;
  /**
   * Feeds the next whole segments by their roots instead of their bytes (so they can be hashed
   * elsewhere, in parallel): 32 bytes per segment, each standing for 256 KiB of file data. Only
   * at a segment boundary, and only for segments that hold a full 256 KiB of data.
   */
  addSegmentRoots(roots: Uint8Array): void;
  /** Ends the file (exactly `size` bytes must have been fed) and returns its tree. */
  finish(): FileTree;
};

/**
 * Every level of the promote-odd tree, leaves first, root level last. Pairs are taken from the
 * left and a trailing odd node moves up unchanged; this is the literal definition, kept separate
 * from the streaming builder so each checks the other in tests.
 */
export function treeLevels(keccak: Keccak, leaves: readonly Uint8Array[]): Uint8Array[][] {
  if (leaves.length === 0) throw storageError(StorageErrorCode.invalidInput, 'a Merkle tree needs at least one leaf');
  for (const leaf of leaves) {
    if (leaf.length !== 32) throw storageError(StorageErrorCode.invalidInput, 'Merkle leaves must be 32 bytes');
  }
  const levels: Uint8Array[][] = [leaves.slice()];
  let level = levels[0]!;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(keccak.hashPair(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    levels.push(next);
    level = next;
  }
  return levels;
}

/** Root of the promote-odd tree over 32-byte leaves. */
export function treeRoot(keccak: Keccak, leaves: readonly Uint8Array[]): Uint8Array {
  const levels = treeLevels(keccak, leaves);
  return levels[levels.length - 1]![0]!;
}

/**
 * Root of one segment from its bytes: the last chunk zero-padded, then EMPTY_CHUNK_HASH leaves up
 * to `paddedChunks` (1024, or fewer for the file's last padded segment, which is not extended).
 */
export function segmentRoot(keccak: Keccak, data: Uint8Array, paddedChunks: number): Uint8Array {
  if (!Number.isInteger(paddedChunks) || paddedChunks < 1 || paddedChunks > CHUNKS_PER_SEGMENT) {
    throw storageError(StorageErrorCode.invalidInput, 'invalid segment chunk count', `${paddedChunks}`);
  }
  if (data.length > paddedChunks * CHUNK_SIZE) {
    throw storageError(StorageErrorCode.invalidDataLength, 'invalid data length', `${data.length} bytes exceed ${paddedChunks} chunks`);
  }
  const stack = new SubtreeStack(keccak);
  const whole = data.length - (data.length % CHUNK_SIZE);
  for (let offset = 0; offset < whole; offset += CHUNK_SIZE) {
    stack.push(keccak.hash(data.subarray(offset, offset + CHUNK_SIZE)), 0);
  }
  if (whole < data.length) {
    const last = new Uint8Array(CHUNK_SIZE);
    last.set(data.subarray(whole));
    stack.push(keccak.hash(last), 0);
  }
  stack.pushZeros(paddedChunks - stack.leaves, zeroTable(keccak));
  return stack.root();
}

/** Right fold of submission nodes: r = last; r = keccak(node_i ‖ r) for i from last-1 down to 0. */
export function foldNodes(keccak: Keccak, roots: readonly Uint8Array[]): Uint8Array {
  let right = roots[roots.length - 1];
  if (!right) throw storageError(StorageErrorCode.invalidInput, 'a submission needs at least one node');
  for (let i = roots.length - 2; i >= 0; i--) right = keccak.hashPair(roots[i]!, right);
  return right;
}

export type FileHasherOptions = {
  /** Hashes whole segments in bulk (see segment-hasher.ts); chunk by chunk through `keccak` without it. */
  segments?: SegmentHasher;
};

/**
 * Streams a file of `size` bytes into its tree. Two stacks: one builds the current segment from
 * chunk leaves, the other collects full segment roots. Full-segment subtrees (heights ≥ 10) come
 * from the second; when the last padded segment is partial, its own pending subtrees are the
 * submission nodes below height 10, so nothing is hashed twice.
 */
export function createFileHasher(keccak: Keccak, size: number, options: FileHasherOptions = {}): FileHasher {
  assertFileSize(size);
  const padded = paddedChunkCount(size);
  const totalSegments = Math.ceil(padded / CHUNKS_PER_SEGMENT);
  const lastSegmentChunks = padded % CHUNKS_PER_SEGMENT || CHUNKS_PER_SEGMENT;
  const zero = zeroTable(keccak);
  const leaves = new SubtreeStack(keccak);
  const segments = new SubtreeStack(keccak);
  const segmentRoots: Uint8Array[] = [];
  let tail: SubtreeNode[] = [];
  // The file's final partial chunk waits here until it is complete or the file ends.
  const pending = new Uint8Array(CHUNK_SIZE);
  let pendingLength = 0;
  let received = 0;
  let done = false;
  let target = totalSegments === 1 ? lastSegmentChunks : CHUNKS_PER_SEGMENT;

  const addRoot = (root: Uint8Array): void => {
    segmentRoots.push(root);
    if (target === CHUNKS_PER_SEGMENT) segments.push(root, SEGMENT_HEIGHT);
    else tail = leaves.nodes(); // only the last segment can be partial
    leaves.reset();
    target = segmentRoots.length === totalSegments - 1 ? lastSegmentChunks : CHUNKS_PER_SEGMENT;
  };

  const addRoots = (roots: Uint8Array): void => {
    for (let i = 0; i < roots.length; i += 32) addRoot(roots.slice(i, i + 32));
  };

  const closeSegment = (): void => {
    leaves.pushZeros(target - leaves.leaves, zero);
    addRoot(leaves.root());
  };

  const addLeaf = (chunk: Uint8Array): void => {
    leaves.push(keccak.hash(chunk), 0);
    if (leaves.leaves === target) closeSegment();
  };

  return {
    update(bytes) {
      if (done) throw storageError(StorageErrorCode.invalidInput, 'file hasher already finished');
      const length = bytes.length;
      if (received + length > size) {
        throw storageError(StorageErrorCode.invalidInput, 'more bytes than the declared file size', `${received + length} > ${size}`);
      }
      received += length;
      let offset = 0;
      if (pendingLength > 0) {
        offset = Math.min(CHUNK_SIZE - pendingLength, length);
        pending.set(bytes.subarray(0, offset), pendingLength);
        pendingLength += offset;
        if (pendingLength < CHUNK_SIZE) return;
        addLeaf(pending);
        pendingLength = 0;
      }
      // Whole segments at a boundary go to the bulk hasher, when there is one.
      const fast = options.segments;
      if (fast && leaves.leaves === 0 && length - offset >= SEGMENT_SIZE) {
        const whole = Math.floor((length - offset) / SEGMENT_SIZE) * SEGMENT_SIZE;
        addRoots(fast.fullSegmentRoots(bytes.subarray(offset, offset + whole)));
        offset += whole;
      }
      // Whole chunks are hashed straight from the caller's buffer, no copy.
      for (; offset + CHUNK_SIZE <= length; offset += CHUNK_SIZE) addLeaf(bytes.subarray(offset, offset + CHUNK_SIZE));
      if (offset < length) {
        pending.set(bytes.subarray(offset));
        pendingLength = length - offset;
      }
    },

    addSegmentRoots(roots) {
      if (done) throw storageError(StorageErrorCode.invalidInput, 'file hasher already finished');
      if (roots.length % 32 !== 0) throw storageError(StorageErrorCode.invalidInput, 'segment roots are 32 bytes each');
      const count = roots.length / 32;
      if (pendingLength > 0 || leaves.leaves > 0) {
        throw storageError(StorageErrorCode.invalidInput, 'segment roots must start at a segment boundary', `${received} bytes fed so far`);
      }
      if (received + count * SEGMENT_SIZE > size) {
        throw storageError(StorageErrorCode.invalidInput, 'more bytes than the declared file size', `${received + count * SEGMENT_SIZE} > ${size}`);
      }
      received += count * SEGMENT_SIZE;
      addRoots(roots);
    },

    finish() {
      if (done) throw storageError(StorageErrorCode.invalidInput, 'file hasher already finished');
      if (received !== size) {
        throw storageError(StorageErrorCode.invalidInput, 'fewer bytes than the declared file size', `${received} < ${size}`);
      }
      done = true;
      if (pendingLength > 0) {
        pending.fill(0, pendingLength);
        addLeaf(pending);
        pendingLength = 0;
      }
      // Pads the current segment, then any segments that hold nothing but padding.
      while (segmentRoots.length < totalSegments) closeSegment();
      const nodes = [...segments.nodes(), ...tail];
      const root = foldNodes(
        keccak,
        nodes.map((node) => node.root),
      );
      return {
        root,
        rootHex: toHex(root),
        size,
        segmentRoots,
        submission: { length: size, nodes: nodes.map((node) => ({ root: toHex(node.root), height: node.height })) },
      };
    },
  };
}

/** The tree of a file held in memory. */
export function fileTree(keccak: Keccak, data: Uint8Array): FileTree {
  const hasher = createFileHasher(keccak, data.length);
  hasher.update(data);
  return hasher.finish();
}
