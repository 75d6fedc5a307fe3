/**
 * The checks a DA node applies to custody requests before a cell counts: the data root and header, the custody
 * assignment, and the KZG proofs (batched, a chunk per event-loop turn).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { isHex } from 'viem';
import type { Hex } from 'viem';
import { BYTES_PER_COMMITMENT, CELLS_PER_BLOB, LENGTH_PREFIX_BYTES, PAYLOAD_BYTES_PER_BLOB } from '../../protocol/da/constants.ts';
import { verifyCellBatch } from '../../protocol/da/kzg.ts';
import type { BlobHeader, CellRef, CellWithProof } from '../../protocol/da/types.ts';
import { InvalidInputError } from '../../protocol/errors.ts';

/** One number per (blob, cell), for sets. */
export const refKey = (ref: CellRef): number => ref.blob * CELLS_PER_BLOB + ref.cell;

export function rootParam(root: string): Hex {
  if (!isHex(root) || root.length !== 66) {
    throw new InvalidInputError('DA_ROOT_MALFORMED', 'a data root is 32 bytes of 0x-prefixed hex', { meta: { root: root.slice(0, 80) } });
  }
  return root.toLowerCase() as Hex;
}

/** Blobs needed for a payload of `size` bytes (u64 length prefix, 31 bytes per field element). */
export function blobCountFor(size: number): number {
  return Math.ceil((LENGTH_PREFIX_BYTES + size) / PAYLOAD_BYTES_PER_BLOB);
}

export function checkHeader(header: BlobHeader, maxPayloadBytes: number, maxBlobs: number): void {
  const bad = (details: string) =>
    new InvalidInputError('DA_HEADER_MALFORMED', 'the blob header is malformed', { details, meta: { reason: details } });
  if (typeof header.epoch !== 'bigint' || header.epoch < 0n || header.epoch >= 1n << 64n) throw bad('epoch must be a uint64');
  if (!Number.isSafeInteger(header.payloadSize) || header.payloadSize < 1 || header.payloadSize > maxPayloadBytes) {
    throw bad(`payloadSize must be an integer in 1..${maxPayloadBytes}`);
  }
  if (!Number.isSafeInteger(header.blobCount) || header.blobCount < 1 || header.blobCount > maxBlobs) {
    throw bad(`blobCount must be an integer in 1..${maxBlobs}`);
  }
  if (header.blobCount !== blobCountFor(header.payloadSize)) throw bad(`a ${header.payloadSize}-byte payload spans ${blobCountFor(header.payloadSize)} blobs, not ${header.blobCount}`);
  if (!Array.isArray(header.commitments) || header.commitments.length !== header.blobCount) throw bad('there must be one commitment per blob');
  for (const commitment of header.commitments) {
    if (!isHex(commitment) || commitment.length !== 2 + 2 * BYTES_PER_COMMITMENT) throw bad('a commitment is 48 bytes of 0x-prefixed hex');
  }
}

export function custodyMismatch(root: Hex, details: string): InvalidInputError {
  return new InvalidInputError('DA_CUSTODY_MISMATCH', 'the cells sent are not this node\'s custody assignment', { details, meta: { root } });
}

/** Same set of (blob, cell), no duplicates; order does not matter. */
export function sameRefs(got: readonly CellRef[], want: readonly CellRef[]): boolean {
  if (got.length !== want.length) return false;
  const wanted = new Set(want.map(refKey));
  const seen = new Set<number>();
  for (const ref of got) {
    if (!Number.isInteger(ref.cell) || ref.cell < 0 || ref.cell >= CELLS_PER_BLOB) return false;
    const k = refKey(ref);
    if (!wanted.has(k) || seen.has(k)) return false;
    seen.add(k);
  }
  return true;
}

/**
 * Batch-verifies every cell against its blob's commitment, a chunk at a time with a yield in
 * between: the whole set passes only if every chunk does, and the event loop is never held for
 * more than one chunk (c-kzg is synchronous native code). Returns the CPU milliseconds spent in
 * c-kzg (not the time other requests ran during the yields, nor time other processes took).
 */
export async function verifyInChunks(commitments: readonly Uint8Array[], cells: readonly CellWithProof[], chunkCells: number, root: Hex): Promise<number> {
  let spent = 0;
  for (let start = 0; start < cells.length; start += chunkCells) {
    if (start > 0) await yieldToLoop();
    const chunk = cells.slice(start, start + chunkCells);
    const t0 = process.threadCpuUsage();
    const ok = verifyCellBatch(
      chunk.map((cell) => commitments[cell.blob]!),
      chunk.map((cell) => cell.cell),
      chunk.map((cell) => cell.data),
      chunk.map((cell) => cell.proof),
    );
    const used = process.threadCpuUsage(t0);
    spent += (used.user + used.system) / 1000;
    if (!ok) {
      throw new InvalidInputError('DA_PROOF_INVALID', 'a cell does not match its KZG proof and commitment', {
        details: `the batch of cells ${start}..${start + chunk.length - 1} failed to verify`,
        meta: { root, from: start, to: start + chunk.length - 1 },
      });
    }
  }
  return spent;
}
