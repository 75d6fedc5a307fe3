/**
 * EIP-7594 cells over c-kzg 4.1.0. The trusted setup (the mainnet ceremony, shipped in the package) is loaded lazily,
 * once per thread: c-kzg keeps it per Node environment and throws if it is loaded twice.
 *
 * c-kzg answers every bad argument with the same C_KZG_BADARGS throw, whether a cell is the wrong size, holds a
 * field element ≥ r, or a proof is not a curve point. Callers need to tell "this data is malformed" (typed error)
 * from "this proof is wrong" (false), so lengths, indexes and field elements are checked here first; what c-kzg
 * still refuses after that is an undecodable commitment or proof point, which is a wrong proof.
 */
import ckzg from 'c-kzg';
import { InvalidInputError } from '../errors.ts';
import {
  BLS_MODULUS,
  BYTES_PER_BLOB,
  BYTES_PER_CELL,
  BYTES_PER_COMMITMENT,
  BYTES_PER_FIELD_ELEMENT,
  BYTES_PER_PROOF,
  CELLS_PER_BLOB,
  RECOVERY_CELLS,
} from './constants.ts';

/** Precompute 8 trades ~100 MB per thread and 0.5 s more load time for ~2× faster proofs (libraries.md §2). */
export const KZG_PRECOMPUTE = 8;

let setupLoaded = false;

/** Loads the trusted setup in this thread if it is not loaded yet; returns whether this call loaded it. */
export function loadKzgSetup(precompute: number = KZG_PRECOMPUTE): boolean {
  if (setupLoaded) return false;
  try {
    ckzg.loadTrustedSetup(precompute);
  } catch (error) {
    // Someone else in this thread (another library) got there first: that setup is the same file.
    if (!(error instanceof Error && /already loaded/.test(error.message))) throw error;
    setupLoaded = true;
    return false;
  }
  setupLoaded = true;
  return true;
}

export type CellsAndProofs = { cells: Uint8Array[]; proofs: Uint8Array[] };

export function blobCommitment(blob: Uint8Array): Uint8Array {
  checkBlob(blob);
  loadKzgSetup();
  try {
    return plain(ckzg.blobToKzgCommitment(blob));
  } catch (error) {
    throw blobMalformed(error);
  }
}

/** The 128 cells of the extended blob and one proof per cell. */
export function computeCellsAndProofs(blob: Uint8Array): CellsAndProofs {
  checkBlob(blob);
  loadKzgSetup();
  try {
    const [cells, proofs] = ckzg.computeCellsAndKzgProofs(blob);
    return { cells: cells.map(plain), proofs: proofs.map(plain) };
  } catch (error) {
    throw blobMalformed(error);
  }
}

/**
 * One batched check of many cells, possibly of different blobs (commitments[i] belongs to cells[i]). False when a
 * proof does not open its cell (including a proof or commitment that is not a curve point); DA_CELL_MALFORMED for
 * mismatched array lengths, wrong byte lengths, an index outside 0..127 or a non-canonical field element.
 */
export function verifyCellBatch(
  commitments: readonly Uint8Array[],
  cellIndices: readonly number[],
  cells: readonly Uint8Array[],
  proofs: readonly Uint8Array[],
): boolean {
  const n = cells.length;
  if (commitments.length !== n || cellIndices.length !== n || proofs.length !== n) {
    throw cellMalformed(
      `commitments, indexes, cells and proofs differ in count (${commitments.length}, ${cellIndices.length}, ${n}, ${proofs.length})`,
    );
  }
  for (let i = 0; i < n; i++) {
    checkLength(commitments[i]!, BYTES_PER_COMMITMENT, `commitment ${i}`);
    checkLength(proofs[i]!, BYTES_PER_PROOF, `proof ${i}`);
    checkCellIndex(cellIndices[i]!, i);
    checkCell(cells[i]!, i);
  }
  if (n === 0) return true;
  loadKzgSetup();
  try {
    return ckzg.verifyCellKzgProofBatch([...commitments], [...cellIndices], [...cells], [...proofs]);
  } catch (error) {
    if (isBadArgs(error)) return false;
    throw error;
  }
}

/** All 128 cells and proofs from any ≥ 64 distinct cells of one blob (in any order). */
export function recoverCells(cellIndices: readonly number[], cells: readonly Uint8Array[]): CellsAndProofs {
  if (cellIndices.length !== cells.length) {
    throw cellMalformed(`${cellIndices.length} indexes for ${cells.length} cells`);
  }
  if (cells.length < RECOVERY_CELLS || cells.length > CELLS_PER_BLOB) {
    throw cellMalformed(`recovery needs ${RECOVERY_CELLS} to ${CELLS_PER_BLOB} cells, got ${cells.length}`);
  }
  const seen = new Set<number>();
  for (let i = 0; i < cells.length; i++) {
    const index = cellIndices[i]!;
    checkCellIndex(index, i);
    if (seen.has(index)) throw cellMalformed(`cell index ${index} appears twice`);
    seen.add(index);
    checkCell(cells[i]!, i);
  }
  const order = [...cellIndices.keys()].sort((a, b) => cellIndices[a]! - cellIndices[b]!);
  loadKzgSetup();
  try {
    const [all, proofs] = ckzg.recoverCellsAndKzgProofs(
      order.map((i) => cellIndices[i]!),
      order.map((i) => cells[i]!),
    );
    return { cells: all.map(plain), proofs: proofs.map(plain) };
  } catch (error) {
    if (isBadArgs(error)) throw cellMalformed(`c-kzg refused the cells (${errorText(error)})`);
    throw error;
  }
}

/** True when every 32-byte big-endian field element of `bytes` is below the BLS12-381 modulus r. */
export function isCanonical(bytes: Uint8Array): boolean {
  for (let o = 0; o < bytes.length; o += BYTES_PER_FIELD_ELEMENT) {
    // r starts with 0x73: any element with a smaller top byte is canonical, which is nearly all of them.
    if (bytes[o]! < MODULUS_BYTES[0]!) continue;
    if (!belowModulus(bytes, o)) return false;
  }
  return true;
}

const MODULUS_BYTES = Uint8Array.from(
  BLS_MODULUS.toString(16)
    .padStart(64, '0')
    .match(/../g)!
    .map((h) => parseInt(h, 16)),
);

function belowModulus(bytes: Uint8Array, offset: number): boolean {
  for (let k = 0; k < BYTES_PER_FIELD_ELEMENT; k++) {
    const a = bytes[offset + k]!;
    const m = MODULUS_BYTES[k]!;
    if (a !== m) return a < m;
  }
  return false; // equal to r
}

/**
 * c-kzg hands out Node Buffers, whose slice() is a view: a caller copying a cell with slice() and editing the copy
 * would edit the original. Plain Uint8Array views over the same memory (no copy) behave like every other byte array
 * here, and like the ones that come back from a worker.
 */
function plain(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

function checkBlob(blob: Uint8Array): void {
  if (!(blob instanceof Uint8Array) || blob.length !== BYTES_PER_BLOB) {
    throw new InvalidInputError('DA_BLOB_MALFORMED', `A blob must be ${BYTES_PER_BLOB} bytes`, {
      meta: { length: blob?.length },
    });
  }
}

function checkLength(bytes: Uint8Array, length: number, what: string): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
    throw cellMalformed(`${what} must be ${length} bytes, got ${bytes?.length}`);
  }
}

function checkCellIndex(index: number, position: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= CELLS_PER_BLOB) {
    throw cellMalformed(`cell index ${index} (at ${position}) is not in 0..${CELLS_PER_BLOB - 1}`);
  }
}

function checkCell(cell: Uint8Array, position: number): void {
  checkLength(cell, BYTES_PER_CELL, `cell ${position}`);
  if (!isCanonical(cell)) throw cellMalformed(`cell ${position} holds a field element ≥ the BLS modulus`);
}

function isBadArgs(error: unknown): boolean {
  return error instanceof Error && error.message.includes('C_KZG_BADARGS');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function cellMalformed(details: string): InvalidInputError {
  return new InvalidInputError('DA_CELL_MALFORMED', `Malformed KZG cell input: ${details}`, { meta: { reason: details } });
}

function blobMalformed(error: unknown): unknown {
  if (!isBadArgs(error)) return error;
  return new InvalidInputError('DA_BLOB_MALFORMED', 'The blob holds a field element ≥ the BLS modulus', {
    details: errorText(error),
    cause: error,
  });
}
