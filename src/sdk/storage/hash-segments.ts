import type { FileHandle } from 'node:fs/promises';
import { SEGMENT_SIZE, SEGMENTS_PER_CALL } from '../../protocol/storage/index.ts';
import type { SegmentHasher } from '../../protocol/storage/index.ts';

/**
 * Roots of segments first … first+count-1 of a file, each a full 256 KiB, read straight into the
 * hasher's own memory (no copy) SEGMENTS_PER_CALL at a time. The same code runs in workers and,
 * while they load, on the caller's thread.
 */
export async function hashSegmentRun(hasher: SegmentHasher, handle: FileHandle, path: string, first: number, count: number): Promise<Uint8Array<ArrayBuffer>> {
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
