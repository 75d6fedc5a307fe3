/**
 * keccak256 behind a tiny synchronous interface. The wasm module must be instantiated
 * asynchronously once; everything else in storage/ takes the ready `Keccak` as an argument so
 * the Merkle rules stay synchronous and pure.
 */
import { createKeccak } from 'hash-wasm';
import type { IHasher } from 'hash-wasm';

export type Keccak = {
  /** keccak256 of `data`; returns a fresh 32-byte array the caller may keep. */
  hash(data: Uint8Array): Uint8Array;
  /** keccak256(left ‖ right) over two 32-byte nodes. */
  hashPair(left: Uint8Array, right: Uint8Array): Uint8Array;
};

let loading: Promise<Keccak> | undefined;

/** The shared keccak256 instance; the wasm is compiled and instantiated on the first call only. */
export function loadKeccak(): Promise<Keccak> {
  loading ??= createKeccak(256).then(
    (hasher) => keccakFrom(hasher),
    (error: unknown) => {
      // A failed load must not poison every later call.
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

/**
 * Wraps one hash-wasm instance. Reusing it (init/update/digest) avoids creating wasm state per
 * hash; the calls are synchronous, so no two hashes can interleave on it.
 */
export function keccakFrom(hasher: IHasher): Keccak {
  // Pairs are copied into one scratch buffer so the wasm sees a single 64-byte update.
  const pair = new Uint8Array(64);
  return {
    hash(data) {
      return hasher.init().update(data).digest('binary');
    },
    hashPair(left, right) {
      if (left.length !== 32 || right.length !== 32) throw new RangeError('hashPair expects two 32-byte nodes');
      pair.set(left, 0);
      pair.set(right, 32);
      return hasher.init().update(pair).digest('binary');
    },
  };
}
