import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keccak256, numberToHex } from 'viem';
import type { Hex } from 'viem';
import { CELLS_PER_BLOB } from './constants.ts';
import { assignedCells, coversAllCells, custodians, effectiveReplication } from './custody.ts';
import type { CellRef } from './types.ts';

const seed = (i: number): Hex => keccak256(numberToHex(i, { size: 32 }));
const key = (ref: CellRef) => `${ref.blob}:${ref.cell}`;

describe('custodians', () => {
  it('are R consecutive nodes from (seed mod n + blob·128 + cell) mod n', () => {
    const s = seed(1);
    const n = 5;
    const base = Number(BigInt(s) % 5n);
    assert.deepEqual(custodians(s, n, 2, { blob: 0, cell: 0 }), [base, (base + 1) % n]);
    const start = (base + 3 * 128 + 7) % n;
    assert.deepEqual(custodians(s, n, 3, { blob: 3, cell: 7 }), [start, (start + 1) % n, (start + 2) % n]);
  });

  it('caps the replication at the node count', () => {
    assert.deepEqual(custodians(seed(2), 2, 5, { blob: 0, cell: 1 }).sort(), [0, 1]);
    assert.deepEqual(custodians(seed(2), 1, 2, { blob: 4, cell: 127 }), [0]);
    assert.equal(effectiveReplication(4, 2), 2);
    assert.equal(effectiveReplication(3, 9), 3);
  });

  it('refuses bad arguments with DA_CUSTODY_INVALID', () => {
    const bad = { code: 'DA_CUSTODY_INVALID' };
    assert.throws(() => custodians(seed(1), 0, 2, { blob: 0, cell: 0 }), bad);
    assert.throws(() => custodians(seed(1), 4, 0, { blob: 0, cell: 0 }), bad);
    assert.throws(() => custodians(seed(1), 4, 2, { blob: 0, cell: 128 }), bad);
    assert.throws(() => custodians(seed(1), 4, 2, { blob: -1, cell: 0 }), bad);
    assert.throws(() => custodians('0x1234', 4, 2, { blob: 0, cell: 0 }), bad);
    assert.throws(() => assignedCells(seed(1), 4, 2, 1, 4), bad);
    assert.throws(() => assignedCells(seed(1), 4, 2, 1.5, 0), bad);
    assert.throws(() => coversAllCells([4], 4, 2), bad);
  });
});

describe('assignedCells', () => {
  it('lists exactly the cells a node is a custodian of, sorted by blob then cell', () => {
    for (const [n, r, blobs] of [[4, 2, 3], [5, 2, 2], [3, 3, 1], [7, 3, 2], [1, 2, 2]] as const) {
      const s = seed(n * 10 + r);
      const holders = new Map<string, number[]>();
      for (let node = 0; node < n; node++) {
        const cells = assignedCells(s, n, r, blobs, node);
        const sorted = [...cells].sort((a, b) => a.blob - b.blob || a.cell - b.cell);
        assert.deepEqual(cells, sorted);
        for (const ref of cells) holders.set(key(ref), [...(holders.get(key(ref)) ?? []), node]);
      }
      assert.equal(holders.size, blobs * CELLS_PER_BLOB, 'every cell has a custodian');
      for (let blob = 0; blob < blobs; blob++) {
        for (let cell = 0; cell < CELLS_PER_BLOB; cell++) {
          const expected = custodians(s, n, r, { blob, cell }).sort((a, b) => a - b);
          assert.deepEqual(holders.get(key({ blob, cell })), expected);
        }
      }
    }
  });

  it('spreads a blob evenly: each of 4 nodes holds half of the cells with R = 2', () => {
    for (let node = 0; node < 4; node++) assert.equal(assignedCells(seed(3), 4, 2, 1, node).length, 64);
  });

  it('is empty for zero blobs', () => {
    assert.deepEqual(assignedCells(seed(3), 4, 2, 0, 1), []);
  });
});

describe('coversAllCells', () => {
  /** Brute force: every cell of enough blobs has a signing custodian. */
  function everyCellHasSigner(signers: number[], n: number, r: number): boolean {
    const s = seed(n * 100 + r);
    const signed = new Set(signers);
    for (let cell = 0; cell < CELLS_PER_BLOB; cell++) {
      if (!custodians(s, n, r, { blob: 0, cell }).some((i) => signed.has(i))) return false;
    }
    return true;
  }

  it('agrees with checking every cell, for every signer subset of up to 8 nodes', () => {
    for (let n = 1; n <= 8; n++) {
      for (let r = 1; r <= 4; r++) {
        for (let mask = 0; mask < 1 << n; mask++) {
          const signers = Array.from({ length: n }, (_, i) => i).filter((i) => mask & (1 << i));
          assert.equal(coversAllCells(signers, n, r), everyCellHasSigner(signers, n, r), `n=${n} r=${r} signers=${signers.join(',')}`);
        }
      }
    }
  });

  it('catches a run of non-signers that wraps past the last node', () => {
    assert.equal(coversAllCells([1, 2], 4, 2), false); // 3 and 0 adjacent
    assert.equal(coversAllCells([0, 2], 4, 2), true);
    assert.equal(coversAllCells([2, 3], 4, 2), false);
    assert.equal(coversAllCells([], 4, 2), false);
    assert.equal(coversAllCells([0, 0, 2], 4, 2), true);
  });
});
