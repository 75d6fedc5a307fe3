/**
 * Segment roots in bulk, the hashing that uploads, downloads and node checks spend their time
 * on. The fast path runs the two-lane SIMD keccak of `keccak-simd.ts` over a whole segment per
 * call; where WebAssembly SIMD is missing it falls back to `segmentRoot` over hash-wasm. Both
 * give the same roots as `segmentRoot(keccak, data, paddedChunks)`, which tests check.
 *
 * Each hasher owns its module instance and memory: use one per thread (calls are synchronous,
 * so callers on one thread never interleave inside it).
 */
import { CHUNKS_PER_SEGMENT, SEGMENT_SIZE } from './constants.ts';
import { loadKeccak } from './keccak.ts';
import type { Keccak } from './keccak.ts';
import { segmentRoot } from './merkle.ts';
import { SEGMENTS_PER_CALL, checkWhole, compileSegmentModule, simdSegmentHasher } from './simd-segment-hasher.ts';
import type { SegmentHasher } from './simd-segment-hasher.ts';

export { SEGMENTS_PER_CALL, compileSegmentModule, simdSegmentHasher } from './simd-segment-hasher.ts';
export type { CompiledModule, SegmentHasher } from './simd-segment-hasher.ts';

const INPUT_BYTES = SEGMENTS_PER_CALL * SEGMENT_SIZE;

/** A new hasher with its own memory; the module is compiled once per thread. */
export async function loadSegmentHasher(): Promise<SegmentHasher> {
  const module = await compileSegmentModule();
  if (!module) return keccakSegmentHasher(await loadKeccak());
  return simdSegmentHasher(module);
}

/** The same interface over hash-wasm, for runtimes without WebAssembly SIMD (and as a reference in tests). */
export function keccakSegmentHasher(keccak: Keccak): SegmentHasher {
  return {
    simd: false,
    input: new Uint8Array(INPUT_BYTES),
    segmentRoot: (data, paddedChunks) => segmentRoot(keccak, data, paddedChunks),
    fullSegmentRoots(data) {
      const count = checkWhole(data);
      const roots = new Uint8Array(32 * count);
      for (let index = 0; index < count; index++) {
        roots.set(segmentRoot(keccak, data.subarray(index * SEGMENT_SIZE, (index + 1) * SEGMENT_SIZE), CHUNKS_PER_SEGMENT), 32 * index);
      }
      return roots;
    },
  };
}
