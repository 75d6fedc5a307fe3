/**
 * The SIMD half of `segment-hasher.ts`, on its own so that hashing threads load only this and
 * the module generator (no hash-wasm, no Merkle code): a thread is handed the module compiled
 * once by its parent (`compileSegmentModule`) and instantiates it synchronously, which makes a
 * hashing thread ready in a few milliseconds instead of compiling and loading its own copy.
 */
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, EMPTY_CHUNK_HASH, SEGMENT_SIZE } from './constants.ts';
import { nodeBytes } from './bytes.ts';
import { StorageErrorCode, storageError } from './errors.ts';
import { KeccakSimdLayout, compileKeccakSimd, instantiateKeccakSimd } from './keccak-simd.ts';
import type { CompiledModule, KeccakSimdExports } from './keccak-simd.ts';

export type { CompiledModule } from './keccak-simd.ts';

export type SegmentHasher = {
  /** Root of a segment of `paddedChunks` leaves (1..1024): the data's chunks, the last one zero-padded, then empty-chunk leaves. */
  segmentRoot(data: Uint8Array, paddedChunks: number): Uint8Array;
  /** Roots (32 bytes each, concatenated) of the whole 1024-chunk segments laid end to end in `data`. */
  fullSegmentRoots(data: Uint8Array): Uint8Array;
  /**
   * Scratch space of SEGMENTS_PER_CALL segments: bytes read straight into it are hashed by
   * `fullSegmentRoots(input.subarray(0, n))` without a copy. Other calls overwrite it.
   */
  readonly input: Uint8Array;
  /** False when this runtime lacks WebAssembly SIMD and hashing goes through hash-wasm. */
  readonly simd: boolean;
};

/** Segments hashed per module call: 4 MiB of input, 512 KiB of leaves. */
export const SEGMENTS_PER_CALL = 16;

const INPUT = KeccakSimdLayout.free;
const INPUT_BYTES = SEGMENTS_PER_CALL * SEGMENT_SIZE;
/** An odd count makes the module hash one input past the end (see keccak-simd.ts): room for it. */
const SLACK = 1024;
const LEAVES = INPUT + INPUT_BYTES + SLACK;
const LEAF_BYTES = SEGMENTS_PER_CALL * CHUNKS_PER_SEGMENT * 32;
const PAGES = Math.ceil((LEAVES + LEAF_BYTES + SLACK) / 65536);
const EMPTY_LEAF = nodeBytes(EMPTY_CHUNK_HASH)!;

let compiled: Promise<CompiledModule | undefined> | undefined;

/**
 * The hashing module, compiled once per thread; undefined where WebAssembly SIMD is missing. A
 * compiled module can be posted to worker threads, which then share its machine code.
 */
export function compileSegmentModule(): Promise<CompiledModule | undefined> {
  compiled ??= compileKeccakSimd(PAGES);
  return compiled;
}

function checkSegment(data: Uint8Array, paddedChunks: number): void {
  if (!Number.isInteger(paddedChunks) || paddedChunks < 1 || paddedChunks > CHUNKS_PER_SEGMENT) {
    throw storageError(StorageErrorCode.invalidInput, 'invalid segment chunk count', `${paddedChunks}`);
  }
  if (data.length > paddedChunks * CHUNK_SIZE) {
    throw storageError(StorageErrorCode.invalidDataLength, 'invalid data length', `${data.length} bytes exceed ${paddedChunks} chunks`);
  }
}

export function checkWhole(data: Uint8Array): number {
  if (data.length % SEGMENT_SIZE !== 0) {
    throw storageError(StorageErrorCode.invalidDataLength, 'invalid data length', `${data.length} bytes is not a whole number of segments`);
  }
  return data.length / SEGMENT_SIZE;
}

/** A hasher over a new instance (with its own memory) of a module from `compileSegmentModule`. */
export function simdSegmentHasher(module: CompiledModule): SegmentHasher {
  const wasm: KeccakSimdExports = instantiateKeccakSimd(module);
  const memory = new Uint8Array(wasm.memory.buffer);
  const input = memory.subarray(INPUT, INPUT + INPUT_BYTES);
  let warm = false;

  /** Promote-odd reduction of `count` nodes at `base`, in place; the root ends up at `base`. */
  const reduce = (base: number, count: number): void => {
    let n = count;
    while (n > 1) {
      const half = Math.floor(n / 2);
      // In place is safe: pair i is read before output i is written, and i ≤ 2i. An odd `half`
      // writes one spare digest at `half`, below node n-1, which is moved there right after.
      wasm.pairs(base, base, half);
      if (n % 2 === 1) memory.copyWithin(base + 32 * half, base + 32 * (n - 1), base + 32 * n);
      n = half + (n % 2);
    }
  };

  return {
    simd: true,
    input,
    segmentRoot(data, paddedChunks) {
      checkSegment(data, paddedChunks);
      memory.set(data, INPUT);
      const whole = Math.ceil(data.length / CHUNK_SIZE) * CHUNK_SIZE;
      memory.fill(0, INPUT + data.length, INPUT + whole);
      const chunks = whole / CHUNK_SIZE;
      wasm.chunks(INPUT, LEAVES, chunks);
      for (let leaf = chunks; leaf < paddedChunks; leaf++) memory.set(EMPTY_LEAF, LEAVES + 32 * leaf);
      reduce(LEAVES, paddedChunks);
      return memory.slice(LEAVES, LEAVES + 32);
    },
    fullSegmentRoots(data) {
      const count = checkWhole(data);
      const roots = new Uint8Array(32 * count);
      const inPlace = data.buffer === wasm.memory.buffer && data.byteOffset === INPUT;
      for (let first = 0; first < count; ) {
        // A new module's first call runs V8's baseline code (a few times slower) to its end, while
        // the optimized code compiles: keep that call to one segment.
        const segments = Math.min(warm ? SEGMENTS_PER_CALL : 1, count - first);
        warm = true;
        // `input` holds at most SEGMENTS_PER_CALL segments, so data already there needs one round.
        const at = inPlace ? INPUT + first * SEGMENT_SIZE : INPUT;
        if (!inPlace) memory.set(data.subarray(first * SEGMENT_SIZE, (first + segments) * SEGMENT_SIZE), INPUT);
        wasm.chunks(at, LEAVES, segments * CHUNKS_PER_SEGMENT);
        // Segments never share a pair (1024 is a power of two), so each level of all of them
        // reduces in one call, and their roots end up side by side.
        for (let nodes = segments * CHUNKS_PER_SEGMENT; nodes > segments; nodes /= 2) wasm.pairs(LEAVES, LEAVES, nodes / 2);
        roots.set(memory.subarray(LEAVES, LEAVES + 32 * segments), 32 * first);
        first += segments;
      }
      return roots;
    },
  };
}
