/**
 * How a file of `size` bytes is laid out in chunks and segments (spec storage.md §4.2, §4.4).
 * All counts are plain numbers: sizes stay below 2^53, and the arithmetic avoids 32-bit bitwise
 * operators, which would wrap for files of 512 GiB and more.
 */
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, SEGMENT_SIZE } from './constants.ts';
import { StorageErrorCode, storageError } from './errors.ts';

const MAX_SIZE = 2 ** 53;

/** Throws unless `size` is a usable file size: an integer in [1, 2^53]. Empty files cannot be stored. */
export function assertFileSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_SIZE) {
    throw storageError(StorageErrorCode.invalidSize, 'invalid file size', `expected an integer in [1, 2^53], got ${size}`, {
      size,
    });
  }
}

/** The smallest power of two ≥ n (n ≥ 1). A loop, because Math.log2 rounds for large n. */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Chunks holding data: ceil(size / 256). */
export function chunkCount(size: number): number {
  assertFileSize(size);
  return Math.ceil(size / CHUNK_SIZE);
}

/**
 * Chunks after 0G padding (SDK `computePaddedSize` = node `compute_padded_chunk_size`): a power
 * of two stays; otherwise round up to a multiple of nextPow2/16 (at least 1), so a submission
 * has at most four nodes.
 */
export function paddedChunkCount(size: number): number {
  const chunks = chunkCount(size);
  const p2 = nextPow2(chunks);
  if (p2 === chunks) return chunks;
  const unit = p2 >= 16 ? p2 / 16 : 1;
  return Math.ceil(chunks / unit) * unit;
}

/** Segments holding data, the ones an uploader sends: ceil(chunks / 1024). */
export function segmentCount(size: number): number {
  return Math.ceil(chunkCount(size) / CHUNKS_PER_SEGMENT);
}

/** Segments of the padded file, the leaves of the file tree; trailing ones may be all padding. */
export function paddedSegmentCount(size: number): number {
  return Math.ceil(paddedChunkCount(size) / CHUNKS_PER_SEGMENT);
}

/** Padded chunks in the last padded segment, which is not extended to 1024 (1..1024). */
export function lastSegmentChunkCount(size: number): number {
  const rest = paddedChunkCount(size) % CHUNKS_PER_SEGMENT;
  return rest === 0 ? CHUNKS_PER_SEGMENT : rest;
}

/** Padded chunks in padded segment `index` (the leaves its segment root covers). */
export function segmentChunkCount(size: number, index: number): number {
  return index === paddedSegmentCount(size) - 1 ? lastSegmentChunkCount(size) : CHUNKS_PER_SEGMENT;
}

/**
 * Bytes an upload of data segment `index` must carry (spec §5 step 5): a full segment, except
 * the last data segment, which is the file's tail rounded up to whole chunks.
 */
export function segmentDataLength(size: number, index: number): number {
  const segments = segmentCount(size);
  if (!Number.isInteger(index) || index < 0 || index >= segments) {
    throw storageError(StorageErrorCode.indexOutOfBound, 'index out of bound', `segment ${index} of ${segments}`, {
      param: 'index',
    });
  }
  if (index < segments - 1) return SEGMENT_SIZE;
  const tail = size - index * SEGMENT_SIZE;
  return Math.ceil(tail / CHUNK_SIZE) * CHUNK_SIZE;
}

/** Heights of the submission nodes: the set bits of the padded chunk count, largest first. */
export function submissionHeights(size: number): number[] {
  let rest = paddedChunkCount(size);
  let height = 0;
  while (2 ** (height + 1) <= rest) height++;
  const heights: number[] = [];
  for (; height >= 0; height--) {
    const span = 2 ** height;
    if (rest >= span) {
      heights.push(height);
      rest -= span;
    }
  }
  return heights;
}

/** Sectors charged for (the fee units, Σ2^height): the padded chunk count. */
export function sectorCount(size: number): number {
  return paddedChunkCount(size);
}
