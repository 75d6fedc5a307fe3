/** 0G log-storage constants (spec storage.md §4.1). */
import type { Keccak } from './keccak.ts';

/** A chunk (= sector = flow entry) is the Merkle leaf. */
export const CHUNK_SIZE = 256;
export const CHUNKS_PER_SEGMENT = 1024;
/** log2(CHUNKS_PER_SEGMENT): the height of a full segment's subtree. */
export const SEGMENT_HEIGHT = 10;
export const SEGMENT_SIZE = CHUNK_SIZE * CHUNKS_PER_SEGMENT;
/** keccak256 of 256 zero bytes, the leaf of every padding chunk; equals ZERO_HASHES[0]. */
export const EMPTY_CHUNK_HASH = '0xd397b3b043d87fcd6fad1291ff0bfd16401c274896d8c63a923727f077b8e0b5';
/** Enough zero-subtree heights for any flow position below 2^64 chunks. */
export const ZERO_HASH_COUNT = 64;

/** Z[0] = keccak(256 zero bytes), Z[i] = keccak(Z[i-1] ‖ Z[i-1]): roots of all-zero subtrees. */
export function zeroHashes(keccak: Keccak, n: number = ZERO_HASH_COUNT): Uint8Array[] {
  const zero: Uint8Array[] = [];
  if (n <= 0) return zero;
  let current = keccak.hash(new Uint8Array(CHUNK_SIZE));
  zero.push(current);
  for (let i = 1; i < n; i++) {
    current = keccak.hashPair(current, current);
    zero.push(current);
  }
  return zero;
}

// A cache keyed by the Keccak object: memoising a pure function keeps protocol/ pure.
const zeroCache = new WeakMap<Keccak, readonly Uint8Array[]>();

/** ZERO_HASHES[0..63], computed once per Keccak instance. Do not mutate the arrays. */
export function zeroTable(keccak: Keccak): readonly Uint8Array[] {
  let table = zeroCache.get(keccak);
  if (!table) {
    table = Object.freeze(zeroHashes(keccak, ZERO_HASH_COUNT));
    zeroCache.set(keccak, table);
  }
  return table;
}
