/**
 * What a hashing thread does, as plain functions over a segment hasher, so the thread
 * (segment-root-worker.ts) and a caller hashing on its own thread run the same code. Two jobs:
 * the roots of segments lying in a buffer (a node checking an upload, a client checking a
 * download: shared memory, read in place), and the roots of a run of a file's whole segments,
 * read from disk straight into the hasher's memory (a client hashing a file to upload it).
 */
import type { FileHandle } from 'node:fs/promises';
import { SEGMENT_SIZE } from '../../protocol/storage/constants.ts';
import { SEGMENTS_PER_CALL } from '../../protocol/storage/simd-segment-hasher.ts';
import type { SegmentHasher } from '../../protocol/storage/simd-segment-hasher.ts';

/** Where a segment's bytes sit in a buffer (from its start), and how many padded chunks its tree has. */
export type RootSegment = { offset: number; length: number; paddedChunks: number };

export type RootJob =
  | { kind: 'roots'; id: number; buffer: SharedArrayBuffer; segments: RootSegment[] }
  | { kind: 'file'; id: number; path: string; first: number; count: number };
/** Roots come back 32 bytes apiece, in job order, in a transferred buffer. */
export type RootReply = { id: number; roots: ArrayBuffer } | { id: number; error: string };
/** What a thread posts once, when it can take jobs. */
export const ROOT_WORKER_READY = 'ready';

/** The roots of `segments` of `bytes`, 32 bytes each, back to back. */
export function rootsAt(hasher: SegmentHasher, bytes: Uint8Array, segments: readonly RootSegment[]): Uint8Array<ArrayBuffer> {
  const roots = new Uint8Array(32 * segments.length);
  segments.forEach(({ offset, length, paddedChunks }, i) => roots.set(hasher.segmentRoot(bytes.subarray(offset, offset + length), paddedChunks), 32 * i));
  return roots;
}

/**
 * Roots of segments first … first+count-1 of a file, each a full 256 KiB, read straight into
 * the hasher's own memory (no copy) SEGMENTS_PER_CALL at a time.
 */
export async function fileRoots(hasher: SegmentHasher, handle: FileHandle, path: string, first: number, count: number): Promise<Uint8Array<ArrayBuffer>> {
  const roots = new Uint8Array(32 * count);
  for (let done = 0; done < count; done += SEGMENTS_PER_CALL) {
    const segments = Math.min(SEGMENTS_PER_CALL, count - done);
    const bytes = segments * SEGMENT_SIZE;
    const position = (first + done) * SEGMENT_SIZE;
    let read = 0;
    while (read < bytes) {
      const { bytesRead } = await handle.read(hasher.input, read, bytes - read, position + read);
      if (bytesRead === 0) throw new Error(`${path} changed while it was read: it ends before byte ${position + bytes}`);
      read += bytesRead;
    }
    roots.set(hasher.fullSegmentRoots(hasher.input.subarray(0, bytes)), 32 * done);
  }
  return roots;
}
