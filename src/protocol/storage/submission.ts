/**
 * What the chain side derives from a submission: the file root a node computes from a `Submit`
 * event (spec storage.md §4.4), and where the Flow contract places the file (§4.8).
 */
import { CHUNKS_PER_SEGMENT } from './constants.ts';
import { nodeBytes, toHex } from './bytes.ts';
import type { Hex, NodeValue } from './bytes.ts';
import { StorageErrorCode, storageError } from './errors.ts';
import type { Keccak } from './keccak.ts';
import { foldNodes } from './merkle.ts';

export type SubmissionNodeInput = { root: NodeValue; height: number | bigint };

/** `dataMerkleRoot` from a submission's nodes: their right fold (= the file root). */
export function submissionRoot(keccak: Keccak, nodes: readonly SubmissionNodeInput[]): Hex {
  if (nodes.length === 0) throw storageError(StorageErrorCode.invalidInput, 'a submission needs at least one node');
  const roots = nodes.map((node, i) => {
    const bytes = nodeBytes(node.root);
    if (!bytes) throw storageError(StorageErrorCode.invalidInput, 'submission node root must be 32 bytes', `node ${i}`);
    return bytes;
  });
  return toHex(foldNodes(keccak, roots));
}

export type FlowPlacement = {
  /** First flow entry of the file (`startPos` / `startEntryIndex`). */
  startIndex: bigint;
  /** Flow position of each submission node, in order. */
  positions: bigint[];
  /** Flow length after the file. */
  nextLength: bigint;
};

const SEGMENT = BigInt(CHUNKS_PER_SEGMENT);

/**
 * Where the Flow appends a submission, given the flow length before it. The file starts at the
 * first multiple of 2^h0; if that leaves it straddling a segment boundary without starting on
 * one, it moves to the boundary, so a file either starts a segment or fits inside one. Each
 * node then goes to the next multiple of its own size. The flow starts at length 1.
 */
export function flowPlacement(currentLength: bigint | number, heights: readonly (number | bigint)[]): FlowPlacement {
  const length = BigInt(currentLength);
  if (length < 0n) throw storageError(StorageErrorCode.invalidInput, 'flow length must not be negative');
  if (heights.length === 0) throw storageError(StorageErrorCode.invalidInput, 'a submission needs at least one node');
  const spans = heights.map((height) => {
    const h = BigInt(height);
    if (h < 0n || h > 255n) throw storageError(StorageErrorCode.invalidInput, 'invalid submission node height', `${height}`);
    return 1n << h;
  });
  const sectors = spans.reduce((sum, span) => sum + span, 0n);
  let start = nextAlign(length, spans[0]!);
  if (start % SEGMENT !== 0n && start / SEGMENT !== (start + sectors - 1n) / SEGMENT) {
    start = (start / SEGMENT + 1n) * SEGMENT;
  }
  let cursor = start;
  const positions: bigint[] = [];
  for (const span of spans) {
    const position = nextAlign(cursor, span);
    positions.push(position);
    cursor = position + span;
  }
  return { startIndex: positions[0]!, positions, nextLength: cursor };
}

function nextAlign(value: bigint, span: bigint): bigint {
  return ((value + span - 1n) / span) * span;
}
