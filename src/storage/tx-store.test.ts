import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Hex } from 'viem';
import { isLevityError } from '../protocol/errors.ts';
import type { SegmentProof } from '../protocol/storage/index.ts';
import { sqliteTxStore } from './tx-store.ts';
import type { StoredTx, TxStore } from './tx-store.ts';

type SyncedTx = Omit<StoredTx, 'finalized' | 'uploadedSegments'>;

const ROOT_A = `0x${'ab'.repeat(32)}` as Hex;
const ROOT_B = `0x${'cd'.repeat(32)}` as Hex;

/** A distinct proof per (seq, index), so a mix-up shows. */
function proofOf(seq: number, index: number): SegmentProof {
  return {
    lemma: [`0x${seq.toString(16).padStart(64, '0')}`, `0x${index.toString(16).padStart(64, '0')}`, ROOT_A],
    path: [index % 2 === 0],
  };
}

function syncedTx(seq: number, root: Hex, size = 1000 + seq): SyncedTx {
  return {
    seq,
    root,
    size,
    startEntryIndex: seq * 1024,
    merkleNodes: [[3, `0x${seq.toString(16).padStart(64, '0')}` as Hex]],
    blockNumber: 10 + seq,
  };
}

describe('sqliteTxStore', () => {
  let dir: string;
  let path: string;
  let store: TxStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-tx-store-'));
    // A nested path: the store makes its own parent directories.
    path = join(dir, 'node', 'meta.sqlite');
    store = sqliteTxStore(path);
  });

  afterEach(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts empty', () => {
    assert.equal(store.syncedBlock(), undefined);
    assert.equal(store.nextSeq(), 0);
    assert.equal(store.bySeq(0), undefined);
    assert.deepEqual(store.byRoot(ROOT_A), []);
    assert.equal(store.hasSegment(0, 0), false);
  });

  it('records synced txs and the sync cursor', () => {
    store.addSynced([syncedTx(0, ROOT_A), syncedTx(1, ROOT_B)], 42);
    assert.equal(store.syncedBlock(), 42);
    assert.equal(store.nextSeq(), 2);
    assert.deepEqual(store.bySeq(1), { ...syncedTx(1, ROOT_B), finalized: false, uploadedSegments: 0 });

    // An empty block range still moves the cursor.
    store.addSynced([], 50);
    assert.equal(store.syncedBlock(), 50);
    assert.equal(store.nextSeq(), 2);
  });

  it('keeps the first record of a seq synced twice', () => {
    store.addSynced([syncedTx(0, ROOT_A)], 1);
    store.addSynced([{ ...syncedTx(0, ROOT_B), size: 5 }], 2);
    assert.equal(store.bySeq(0)?.root, ROOT_A);
    assert.equal(store.bySeq(0)?.size, 1000);
    assert.equal(store.syncedBlock(), 2);
  });

  it('counts from the highest seq', () => {
    store.addSynced([syncedTx(5, ROOT_A), syncedTx(3, ROOT_B)], 1);
    assert.equal(store.nextSeq(), 6);
  });

  it('finds txs by root case-insensitively, finalized first, then by seq', () => {
    const upper = `0x${'AB'.repeat(32)}` as Hex;
    store.addSynced([syncedTx(1, upper), syncedTx(2, ROOT_B), syncedTx(3, ROOT_A), syncedTx(5, ROOT_A)], 9);

    assert.deepEqual(store.byRoot(ROOT_A).map((tx) => tx.seq), [1, 3, 5]);
    assert.deepEqual(store.byRoot(upper).map((tx) => tx.seq), [1, 3, 5]);
    // Roots come back lowercase whatever case they were synced in.
    assert.equal(store.bySeq(1)?.root, ROOT_A);

    store.finalize(5);
    assert.deepEqual(store.byRoot(ROOT_A).map((tx) => [tx.seq, tx.finalized]), [
      [5, true],
      [1, false],
      [3, false],
    ]);
    store.finalize(3);
    assert.deepEqual(store.byRoot(ROOT_A).map((tx) => tx.seq), [3, 5, 1]);
    assert.deepEqual(store.byRoot(ROOT_B).map((tx) => tx.seq), [2]);
  });

  it('counts segments once each and reports them on the tx', () => {
    store.addSynced([syncedTx(0, ROOT_A), syncedTx(1, ROOT_B)], 1);
    assert.equal(store.addSegment(0, 2, proofOf(0, 2)), 1);
    assert.equal(store.addSegment(0, 0, proofOf(0, 0)), 2);
    assert.equal(store.addSegment(0, 2, proofOf(0, 2)), 2, 'a repeated segment is not counted again');
    assert.equal(store.addSegment(1, 2, proofOf(1, 2)), 1, 'counts are per tx');

    assert.equal(store.hasSegment(0, 0), true);
    assert.equal(store.hasSegment(0, 1), false);
    assert.equal(store.hasSegment(0, 2), true);
    assert.equal(store.hasSegment(1, 0), false);
    assert.equal(store.bySeq(0)?.uploadedSegments, 2);
    assert.equal(store.bySeq(1)?.uploadedSegments, 1);
  });

  it('keeps the proof a segment came with, the first one if it comes twice', () => {
    store.addSynced([syncedTx(0, ROOT_A)], 1);
    store.addSegment(0, 1, proofOf(0, 1));
    assert.equal(store.addSegment(0, 1, proofOf(9, 9)), 1);
    assert.deepEqual(store.segmentProof(0, 1), proofOf(0, 1));
    assert.throws(
      () => store.segmentProof(0, 0),
      (error: unknown) => isLevityError(error) && error.code === 'STORAGE_SEGMENT_MISSING',
    );
  });

  it('records several requests in one commit, and hands back a run of proofs only when all are stored', () => {
    store.addSynced([syncedTx(0, ROOT_A), syncedTx(1, ROOT_B)], 1);
    const entries = (seq: number, indexes: number[]) => indexes.map((index) => ({ index, proof: proofOf(seq, index) }));
    assert.deepEqual(store.addSegmentGroups([{ seq: 0, entries: entries(0, [0, 1]) }, { seq: 1, entries: entries(1, [4]) }, { seq: 0, entries: entries(0, [3]) }]), [2, 1, 3]);
    assert.deepEqual(store.segmentProofs(0, 0, 2), [proofOf(0, 0), proofOf(0, 1)]);
    assert.equal(store.segmentProofs(0, 0, 4), undefined, 'segment 2 is missing');
    assert.deepEqual(store.segmentProofs(0, 3, 1), [proofOf(0, 3)]);
    assert.deepEqual([store.bySeq(0)?.uploadedSegments, store.bySeq(1)?.uploadedSegments], [3, 1]);
  });

  it('finalizes one tx only', () => {
    store.addSynced([syncedTx(0, ROOT_A), syncedTx(1, ROOT_A)], 1);
    store.finalize(1);
    assert.equal(store.bySeq(0)?.finalized, false);
    assert.equal(store.bySeq(1)?.finalized, true);
    store.finalize(1);
    assert.equal(store.bySeq(1)?.finalized, true);
    // Finalizing an unknown seq is a no-op, not an insert.
    store.finalize(7);
    assert.equal(store.bySeq(7), undefined);
  });

  it('persists everything across a reopen', () => {
    store.addSynced([syncedTx(0, ROOT_A), syncedTx(1, ROOT_A), syncedTx(2, ROOT_B)], 77);
    store.addSegment(1, 0, proofOf(1, 0));
    store.addSegment(1, 3, proofOf(1, 3));
    store.finalize(1);
    const before = [0, 1, 2].map((seq) => store.bySeq(seq));
    store.close();

    store = sqliteTxStore(path);
    assert.equal(store.syncedBlock(), 77);
    assert.equal(store.nextSeq(), 3);
    assert.deepEqual([0, 1, 2].map((seq) => store.bySeq(seq)), before);
    assert.deepEqual(store.bySeq(1), { ...syncedTx(1, ROOT_A), finalized: true, uploadedSegments: 2 });
    assert.equal(store.hasSegment(1, 3), true);
    assert.deepEqual(store.segmentProof(1, 3), proofOf(1, 3));
    assert.deepEqual(store.byRoot(ROOT_A).map((tx) => tx.seq), [1, 0]);
    // The count carries on from the stored segments.
    assert.equal(store.addSegment(1, 3, proofOf(1, 3)), 2);
    assert.equal(store.addSegment(1, 4, proofOf(1, 4)), 3);
  });

  it('rolls back a sync batch that fails part way', () => {
    store.addSynced([syncedTx(0, ROOT_A)], 5);
    // A value SQLite cannot bind fails the insert (a NULL would not: INSERT OR IGNORE skips the row).
    const broken = { ...syncedTx(1, ROOT_B), size: undefined } as unknown as SyncedTx;
    assert.throws(() => store.addSynced([syncedTx(2, ROOT_B), broken], 6));
    assert.equal(store.bySeq(2), undefined, 'no tx of the failed batch is kept');
    assert.equal(store.syncedBlock(), 5, 'the cursor does not move');
    assert.equal(store.nextSeq(), 1);
    // The store is still usable after the rollback.
    store.addSynced([syncedTx(1, ROOT_B)], 6);
    assert.equal(store.nextSeq(), 2);
  });
});
