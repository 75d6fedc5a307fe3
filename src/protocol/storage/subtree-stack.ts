/**
 * Incremental promote-odd Merkle builder. Leaves arrive left to right; the stack holds the
 * roots of perfect subtrees with strictly decreasing heights, which are exactly the binary
 * decomposition of the leaves seen so far (like a binary counter). A promote-odd tree equals the
 * right fold of that decomposition, so its root, and a submission's nodes, fall out of the
 * stack without hashing anything twice.
 *
 * Nodes live side by side in one buffer: the two nodes to merge are always the top two, so they
 * are already the 64 contiguous bytes to hash, and merging needs no copy or allocation.
 */
import type { Keccak } from './keccak.ts';

export type SubtreeNode = { root: Uint8Array; height: number };

/** Heights go up to 64, so at most 65 subtrees are ever pending. */
const CAPACITY = 65;

export class SubtreeStack {
  readonly #keccak: Keccak;
  readonly #nodes = new Uint8Array(32 * CAPACITY);
  readonly #heights = new Uint8Array(CAPACITY);
  /** #entries[k] views node k; #pairs[k] views nodes k and k+1 together. */
  readonly #entries: Uint8Array[] = [];
  readonly #pairs: Uint8Array[] = [];
  #depth = 0;
  #leaves = 0;

  constructor(keccak: Keccak) {
    this.#keccak = keccak;
    for (let k = 0; k < CAPACITY; k++) {
      this.#entries.push(this.#nodes.subarray(32 * k, 32 * k + 32));
      this.#pairs.push(this.#nodes.subarray(32 * k, 32 * k + 64));
    }
  }

  /** Leaves covered so far (a node of height h counts 2^h). */
  get leaves(): number {
    return this.#leaves;
  }

  get depth(): number {
    return this.#depth;
  }

  /**
   * Adds the root of a perfect subtree of `height`. It must start at a multiple of 2^height
   * (no taller than the top), otherwise it would not be a node of the promote-odd tree.
   */
  push(node: Uint8Array, height: number): void {
    const heights = this.#heights;
    let depth = this.#depth;
    if (depth > 0 && height > heights[depth - 1]!) throw new RangeError('subtree taller than the one before it');
    this.#nodes.set(node, 32 * depth);
    heights[depth] = height;
    depth++;
    this.#leaves += 2 ** height;
    while (depth >= 2 && heights[depth - 1] === heights[depth - 2]) {
      const k = depth - 2;
      this.#nodes.set(this.#keccak.hash(this.#pairs[k]!), 32 * k);
      heights[k]!++;
      depth--;
    }
    this.#depth = depth;
  }

  /** Appends `count` all-zero leaves, as whole zero subtrees (Z[h]) wherever alignment allows. */
  pushZeros(count: number, zero: readonly Uint8Array[]): void {
    let rest = count;
    while (rest > 0) {
      // Largest 2^h that starts aligned at the current leaf count and still fits.
      let height = 0;
      while (this.#leaves % 2 ** (height + 1) === 0 && 2 ** (height + 1) <= rest) height++;
      const node = zero[height];
      if (!node) throw new RangeError(`no zero hash for height ${height}`);
      this.push(node, height);
      rest -= 2 ** height;
    }
  }

  /** Root of the promote-odd tree over everything pushed: the right fold of the stack. */
  root(): Uint8Array {
    const depth = this.#depth;
    if (depth === 0) throw new RangeError('empty tree has no root');
    if (depth === 1) return this.#entries[0]!.slice();
    let right = this.#keccak.hash(this.#pairs[depth - 2]!);
    for (let k = depth - 3; k >= 0; k--) right = this.#keccak.hashPair(this.#entries[k]!, right);
    return right;
  }

  /** Copies of the pending subtrees, tallest first. */
  nodes(): SubtreeNode[] {
    const out: SubtreeNode[] = [];
    for (let k = 0; k < this.#depth; k++) out.push({ root: this.#entries[k]!.slice(), height: this.#heights[k]! });
    return out;
  }

  reset(): void {
    this.#depth = 0;
    this.#leaves = 0;
  }
}
