/**
 * Which DA nodes hold which cells. Every cell has R = min(replication, n) custodians, consecutive node indexes
 * (mod n) from a start that a blob's seed shifts: start = (seed mod n + blob·128 + cell) mod n. Consecutive cells
 * thus rotate over the nodes, every node holds about R/n of each blob, and a set of signers in which no R
 * consecutive nodes (cyclically) are all missing has a custodian of every cell — the coverage half of the quorum
 * rule, which DataAvailability.sol checks the same way on the signer bitmap.
 */
import type { Hex } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { CELLS_PER_BLOB } from './constants.ts';
import type { CellRef } from './types.ts';

/** The indexes of the nodes that hold cell `ref`, in custody order (the first is the start node). */
export function custodians(blobSeed: Hex, nodeCount: number, replication: number, ref: CellRef): number[] {
  const r = effectiveReplication(nodeCount, replication);
  checkRef(ref);
  const start = (seedOffset(blobSeed, nodeCount) + ref.blob * CELLS_PER_BLOB + ref.cell) % nodeCount;
  return Array.from({ length: r }, (_, j) => (start + j) % nodeCount);
}

/** Every cell node `nodeIndex` holds among `blobCount` blobs, sorted by blob then cell. */
export function assignedCells(
  blobSeed: Hex,
  nodeCount: number,
  replication: number,
  blobCount: number,
  nodeIndex: number,
): CellRef[] {
  const r = effectiveReplication(nodeCount, replication);
  if (!Number.isSafeInteger(blobCount) || blobCount < 0) throw invalid('blobCount must be a non-negative integer', { blobCount });
  if (!Number.isSafeInteger(nodeIndex) || nodeIndex < 0 || nodeIndex >= nodeCount) {
    throw invalid(`nodeIndex must be an integer in [0, ${nodeCount})`, { nodeIndex, nodeCount });
  }
  const offset = seedOffset(blobSeed, nodeCount);
  const cells: CellRef[] = [];
  for (let blob = 0; blob < blobCount; blob++) {
    for (let cell = 0; cell < CELLS_PER_BLOB; cell++) {
      const start = (offset + blob * CELLS_PER_BLOB + cell) % nodeCount;
      // The node is the j-th custodian, j = (node - start) mod n; it holds the cell iff j < R.
      if ((nodeIndex - start + nodeCount) % nodeCount < r) cells.push({ blob, cell });
    }
  }
  return cells;
}

/**
 * Whether every cell has a custodian among the signers: no cyclic run of R = min(replication, n) consecutive
 * non-signers. Exact when n ≤ blobCount·128 (every start position occurs), sufficient otherwise.
 */
export function coversAllCells(signerIndexes: readonly number[], nodeCount: number, replication: number): boolean {
  const r = effectiveReplication(nodeCount, replication);
  const signed = new Array<boolean>(nodeCount).fill(false);
  for (const index of signerIndexes) {
    if (!Number.isSafeInteger(index) || index < 0 || index >= nodeCount) {
      throw invalid(`signer index ${index} is not a node of a committee of ${nodeCount}`, { index, nodeCount });
    }
    signed[index] = true;
  }
  let run = 0;
  // Going round twice catches runs that wrap past the last node; a run of r is found within n + r - 1 steps.
  for (let step = 0; step < nodeCount + r - 1; step++) {
    run = signed[step % nodeCount] ? 0 : run + 1;
    if (run >= r) return false;
  }
  return true;
}

/** R = min(replication, n): with fewer nodes than copies, every node holds every cell. */
export function effectiveReplication(nodeCount: number, replication: number): number {
  if (!Number.isSafeInteger(nodeCount) || nodeCount < 1) throw invalid('nodeCount must be a positive integer', { nodeCount });
  if (!Number.isSafeInteger(replication) || replication < 1) {
    throw invalid('replication must be a positive integer', { replication });
  }
  return Math.min(replication, nodeCount);
}

function seedOffset(blobSeed: Hex, nodeCount: number): number {
  if (typeof blobSeed !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(blobSeed)) {
    throw invalid('a blob seed is 32 bytes of 0x-hex', { blobSeed: String(blobSeed) });
  }
  return Number(BigInt(blobSeed) % BigInt(nodeCount));
}

function checkRef(ref: CellRef): void {
  if (!Number.isSafeInteger(ref.blob) || ref.blob < 0 || !Number.isSafeInteger(ref.cell) || ref.cell < 0 || ref.cell >= CELLS_PER_BLOB) {
    throw invalid(`a cell is (blob ≥ 0, cell in [0, ${CELLS_PER_BLOB}))`, { blob: ref.blob, cell: ref.cell });
  }
}

function invalid(details: string, meta: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError('DA_CUSTODY_INVALID', 'Invalid custody arguments', { details, meta });
}
