/**
 * Arweave deep hash (SHA-384), synchronous. A blob hashes as
 * SHA-384(SHA-384("blob" + length) ‖ SHA-384(bytes)); a list folds
 * acc = SHA-384(acc ‖ deepHash(item)) starting from SHA-384("list" + count).
 *
 * Every data item verify runs 15 of these hashes, so they use the one-shot `crypto.hash` (about
 * half the cost of a `createHash` object) over a reused 96-byte pair buffer.
 */
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';

export type DeepHashChunk = Uint8Array | DeepHashChunk[];

const DIGEST = 48;

/** Returns the node Buffer as is: wrapping it in a plain Uint8Array view costs as much as a hash. */
function sha384(data: Uint8Array): Uint8Array {
  return hash('sha384', data, 'buffer');
}

const pair = new Uint8Array(2 * DIGEST);
/** SHA-384(left ‖ right) over two digests; synchronous, so the shared buffer cannot be interleaved. */
function sha384Pair(left: Uint8Array, right: Uint8Array): Uint8Array {
  pair.set(left, 0);
  pair.set(right, DIGEST);
  return sha384(pair);
}

/** The tag hashes repeat for every item of the same length, so they are memoised (bounded). */
const blobTagCache = new Map<number, Uint8Array>();
function blobTag(length: number): Uint8Array {
  let tag = blobTagCache.get(length);
  if (tag === undefined) {
    tag = sha384(Buffer.from(`blob${length}`));
    if (blobTagCache.size < 10_000) blobTagCache.set(length, tag);
  }
  return tag;
}

export function deepHashBlob(bytes: Uint8Array): Uint8Array {
  return sha384Pair(blobTag(bytes.byteLength), sha384(bytes));
}

/** The starting accumulator of a list of `count` items. */
export function deepHashListStart(count: number): Uint8Array {
  return sha384(Buffer.from(`list${count}`));
}

/** One fold step of a list: acc' = SHA-384(acc ‖ itemHash). */
export function deepHashListStep(acc: Uint8Array, itemHash: Uint8Array): Uint8Array {
  return sha384Pair(acc, itemHash);
}

export function deepHash(data: DeepHashChunk): Uint8Array {
  if (Array.isArray(data)) {
    let acc = deepHashListStart(data.length);
    for (const item of data) acc = deepHashListStep(acc, deepHash(item));
    return acc;
  }
  return deepHashBlob(data);
}
