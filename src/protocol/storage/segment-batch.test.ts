import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SEGMENT_SIZE } from './constants.ts';
import { loadKeccak } from './keccak.ts';
import { fileTree } from './merkle.ts';
import { segmentProver, verifySegment } from './proof.ts';
import { batchDataLength, batchSegment, decodeSegmentBatch, encodeBatchHead, encodeSegmentBatch, MAX_BATCH_SEGMENTS } from './segment-batch.ts';
import { vectorData } from './vectors.ts';

const keccak = await loadKeccak();
const size = 5 * SEGMENT_SIZE + 1000;
const file = vectorData(size);
const tree = fileTree(keccak, file);
const prove = segmentProver(keccak, tree.segmentRoots);

function batch(first: number, count: number): Uint8Array {
  const data = new Uint8Array(batchDataLength(size, first, count));
  data.set(file.subarray(first * SEGMENT_SIZE, Math.min(size, (first + count) * SEGMENT_SIZE)));
  const proofs = Array.from({ length: count }, (_, k) => prove(first + k));
  return encodeSegmentBatch({ root: tree.rootHex, fileSize: size, first, proofs, data });
}

const code = (expected: RegExp) => (error: Error & { code?: string }) => {
  assert.equal(error.code, 'STORAGE_BATCH_MALFORMED');
  assert.match(error.message, expected);
  return true;
};

describe('segment batches', () => {
  it('round-trips header, proofs and data, and every segment still verifies', () => {
    for (const [first, count] of [[0, 6], [0, 1], [2, 3], [5, 1]] as const) {
      const decoded = decodeSegmentBatch(batch(first, count));
      assert.deepEqual([decoded.root, decoded.fileSize, decoded.first, decoded.count], [tree.rootHex, size, first, count]);
      for (let k = 0; k < count; k++) {
        assert.deepEqual(decoded.proofs[k], prove(first + k));
        verifySegment(keccak, { root: tree.rootHex, data: batchSegment(decoded, k), index: first + k, proof: decoded.proofs[k]!, fileSize: size });
      }
    }
  });

  it('keeps the data one contiguous view into the body', () => {
    const body = batch(1, 3);
    const decoded = decodeSegmentBatch(body);
    assert.equal(decoded.data.buffer, body.buffer);
    assert.equal(decoded.data.length, 3 * SEGMENT_SIZE);
  });

  it('refuses malformed bodies with a typed error, never a crash', () => {
    const good = batch(0, 2);
    assert.throws(() => decodeSegmentBatch(new Uint8Array(10)), code(/shorter than its header/));
    const magic = good.slice();
    magic[0] = 0;
    assert.throws(() => decodeSegmentBatch(magic), code(/bad magic/));
    const version = good.slice();
    version[4] = 9;
    assert.throws(() => decodeSegmentBatch(version), code(/version 9/));
    assert.throws(() => decodeSegmentBatch(good.subarray(0, good.length - 1)), code(/wrong length/));
    assert.throws(() => decodeSegmentBatch(good.subarray(0, 70)), code(/cut short/));
    const extra = new Uint8Array(good.length + 1);
    extra.set(good);
    assert.throws(() => decodeSegmentBatch(extra), code(/wrong length/));
    const zero = good.slice();
    new DataView(zero.buffer).setUint32(52, 0);
    assert.throws(() => decodeSegmentBatch(zero), code(/1\.\.256 segments/));
    const beyond = good.slice();
    new DataView(beyond.buffer).setUint32(48, 5);
    assert.throws(() => decodeSegmentBatch(beyond), code(/index out of bound/));
    const noSize = good.slice();
    new DataView(noSize.buffer).setBigUint64(40, 0n);
    assert.throws(() => decodeSegmentBatch(noSize), code(/invalid file size/));
    const longPath = good.slice();
    longPath[56] = 200;
    assert.throws(() => decodeSegmentBatch(longPath), code(/proof too long/));
  });

  it('refuses to encode what it could not decode', () => {
    assert.throws(() => encodeBatchHead({ root: '0x12', fileSize: size, first: 0, proofs: [prove(0)] }), code(/root/));
    assert.throws(() => encodeBatchHead({ root: tree.rootHex, fileSize: size, first: 0, proofs: [] }), code(/segments/));
    const many = Array.from({ length: MAX_BATCH_SEGMENTS + 1 }, () => prove(0));
    assert.throws(() => encodeBatchHead({ root: tree.rootHex, fileSize: size, first: 0, proofs: many }), code(/segments/));
    assert.throws(() => encodeSegmentBatch({ root: tree.rootHex, fileSize: size, first: 0, proofs: [prove(0)], data: new Uint8Array(5) }), code(/data is 5 bytes/));
  });
});
