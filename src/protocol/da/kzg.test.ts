import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import { BLS_MODULUS, BYTES_PER_BLOB, BYTES_PER_CELL, CELLS_PER_BLOB } from './constants.ts';
import {
  blobCommitment,
  computeCellsAndProofs,
  isCanonical,
  loadKzgSetup,
  recoverCells,
  verifyCellBatch,
} from './kzg.ts';
import { payloadToBlobs } from './payload-blobs.ts';

const code = (expected: string) => (error: unknown) =>
  error instanceof InvalidInputError && error.code === expected;

const all = [...Array(CELLS_PER_BLOB).keys()];
const timed = <T>(label: string, fn: () => T): T => {
  const t0 = performance.now();
  const result = fn();
  console.log(`${label}: ${(performance.now() - t0).toFixed(1)} ms`);
  return result;
};

function fieldElement(value: bigint): Uint8Array {
  return Uint8Array.from(value.toString(16).padStart(64, '0').match(/../g)!.map((h) => parseInt(h, 16)));
}

describe('kzg', () => {
  const blobs = payloadToBlobs(new Uint8Array(randomBytes(200_000)));
  let commitment: Uint8Array;
  let cells: Uint8Array[];
  let proofs: Uint8Array[];

  before(() => {
    const t0 = performance.now();
    assert.equal(loadKzgSetup(), true);
    console.log(`loadTrustedSetup(8): ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(loadKzgSetup(), false); // once per thread, never a c-kzg "already loaded" throw
    commitment = timed('blobCommitment', () => blobCommitment(blobs[0]!));
    ({ cells, proofs } = timed('computeCellsAndProofs', () => computeCellsAndProofs(blobs[0]!)));
  });

  it('computes 128 cells whose first half is the blob itself', () => {
    assert.equal(commitment.length, 48);
    assert.equal(cells.length, CELLS_PER_BLOB);
    assert.equal(proofs.length, CELLS_PER_BLOB);
    for (const cell of cells) assert.equal(cell.length, BYTES_PER_CELL);
    assert.equal(Object.getPrototypeOf(cells[0]), Uint8Array.prototype); // slice() copies, unlike Buffer's
    for (const proof of proofs) assert.equal(proof.length, 48);
    const systematic = new Uint8Array(BYTES_PER_BLOB);
    cells.slice(0, 64).forEach((cell, i) => systematic.set(cell, i * BYTES_PER_CELL));
    assert.deepEqual(systematic, blobs[0]);
  });

  it('verifies all cells, and 64 of them', () => {
    assert.equal(
      timed('verifyCellBatch 128 cells', () => verifyCellBatch(all.map(() => commitment), all, cells, proofs)),
      true,
    );
    const half = all.filter((i) => i % 2 === 1);
    const ok = timed('verifyCellBatch 64 cells', () =>
      verifyCellBatch(
        half.map(() => commitment),
        half,
        half.map((i) => cells[i]!),
        half.map((i) => proofs[i]!),
      ),
    );
    assert.equal(ok, true);
    assert.equal(verifyCellBatch([], [], [], []), true);
  });

  it('verifies cells of several blobs in one batch', () => {
    const other = computeCellsAndProofs(blobs[1]!);
    const otherCommitment = blobCommitment(blobs[1]!);
    const ok = verifyCellBatch([commitment, otherCommitment], [5, 100], [cells[5]!, other.cells[100]!], [
      proofs[5]!,
      other.proofs[100]!,
    ]);
    assert.equal(ok, true);
    assert.equal(verifyCellBatch([otherCommitment], [5], [cells[5]!], [proofs[5]!]), false);
  });

  it('answers false for a tampered cell, a swapped proof, a wrong index or a proof that is not a point', () => {
    const tampered = cells[7]!.slice();
    tampered[31] = tampered[31]! ^ 1; // still canonical
    assert.equal(verifyCellBatch([commitment], [7], [tampered], [proofs[7]!]), false);
    const batch = all.map((i) => (i === 7 ? tampered : cells[i]!));
    assert.equal(verifyCellBatch(all.map(() => commitment), all, batch, proofs), false);
    assert.equal(verifyCellBatch([commitment], [7], [cells[7]!], [proofs[8]!]), false);
    assert.equal(verifyCellBatch([commitment], [8], [cells[7]!], [proofs[7]!]), false);
    assert.equal(verifyCellBatch([commitment], [7], [cells[7]!], [new Uint8Array(48).fill(7)]), false);
    assert.equal(verifyCellBatch([new Uint8Array(48).fill(7)], [7], [cells[7]!], [proofs[7]!]), false);
  });

  it('throws DA_CELL_MALFORMED for wrong lengths, indexes and non-canonical field elements', () => {
    const malformed = code('DA_CELL_MALFORMED');
    assert.throws(() => verifyCellBatch([commitment], [7], [cells[7]!.subarray(1)], [proofs[7]!]), malformed);
    assert.throws(() => verifyCellBatch([commitment], [7], [cells[7]!], [proofs[7]!.subarray(1)]), malformed);
    assert.throws(() => verifyCellBatch([commitment.subarray(1)], [7], [cells[7]!], [proofs[7]!]), malformed);
    assert.throws(() => verifyCellBatch([commitment], [7, 8], [cells[7]!], [proofs[7]!]), malformed);
    assert.throws(() => verifyCellBatch([commitment], [128], [cells[7]!], [proofs[7]!]), malformed);
    assert.throws(() => verifyCellBatch([commitment], [-1], [cells[7]!], [proofs[7]!]), malformed);
    assert.throws(() => verifyCellBatch([commitment], [1.5], [cells[7]!], [proofs[7]!]), malformed);
    const nonCanonical = cells[7]!.slice();
    nonCanonical.set(fieldElement(BLS_MODULUS), 64 * 10);
    assert.throws(() => verifyCellBatch([commitment], [7], [nonCanonical], [proofs[7]!]), malformed);
  });

  it('recovers all cells and proofs byte-exactly from a random half', () => {
    const pick = all.slice();
    for (let i = pick.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [pick[i], pick[j]] = [pick[j]!, pick[i]!];
    }
    const have = pick.slice(0, 64); // unsorted on purpose
    const recovered = timed('recoverCells from 64', () =>
      recoverCells(
        have,
        have.map((i) => cells[i]!),
      ),
    );
    assert.deepEqual(recovered.cells, cells);
    assert.deepEqual(recovered.proofs, proofs);
    // Only parity cells (64..127) is the hardest case: the whole blob is rebuilt.
    const parity = all.slice(64);
    assert.deepEqual(recoverCells(parity, parity.map((i) => cells[i]!)).cells, cells);
  });

  it('refuses to recover from too few, duplicate or malformed cells', () => {
    const malformed = code('DA_CELL_MALFORMED');
    const some = all.slice(0, 63);
    assert.throws(() => recoverCells(some, some.map((i) => cells[i]!)), malformed);
    const dup = [0, ...all.slice(0, 64)];
    assert.throws(() => recoverCells(dup, dup.map((i) => cells[i]!)), malformed);
    const half = all.slice(0, 64);
    assert.throws(() => recoverCells(half, half.slice(1).map((i) => cells[i]!)), malformed);
    assert.throws(() => recoverCells([...half.slice(1), 128], half.map((i) => cells[i]!)), malformed);
    const bad = half.map((i) => cells[i]!);
    bad[3] = new Uint8Array(BYTES_PER_CELL).fill(0xff);
    assert.throws(() => recoverCells(half, bad), malformed);
  });

  it('refuses malformed blobs with DA_BLOB_MALFORMED', () => {
    const malformed = code('DA_BLOB_MALFORMED');
    assert.throws(() => blobCommitment(new Uint8Array(BYTES_PER_BLOB - 1)), malformed);
    assert.throws(() => computeCellsAndProofs(new Uint8Array(BYTES_PER_BLOB + 1)), malformed);
    const nonCanonical = new Uint8Array(BYTES_PER_BLOB);
    nonCanonical.set(fieldElement(BLS_MODULUS), 32 * 17);
    assert.throws(() => blobCommitment(nonCanonical), malformed);
    assert.throws(() => computeCellsAndProofs(nonCanonical), malformed);
  });

  it('checks canonical field elements at the modulus boundary', () => {
    assert.equal(isCanonical(fieldElement(BLS_MODULUS - 1n)), true);
    assert.equal(isCanonical(fieldElement(BLS_MODULUS)), false);
    assert.equal(isCanonical(fieldElement(BLS_MODULUS + 1n)), false);
    assert.equal(isCanonical(new Uint8Array(32).fill(0x74)), false);
    assert.equal(isCanonical(new Uint8Array(32).fill(0x73)), true);
    assert.equal(isCanonical(new Uint8Array(32).fill(0x72)), true);
    assert.equal(isCanonical(new Uint8Array(0)), true);
  });
});
