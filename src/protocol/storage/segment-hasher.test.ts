import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from './bytes.ts';
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, SEGMENT_SIZE } from './constants.ts';
import { loadKeccak } from './keccak.ts';
import { createFileHasher, fileTree, segmentRoot } from './merkle.ts';
import { keccakSegmentHasher, loadSegmentHasher, SEGMENTS_PER_CALL } from './segment-hasher.ts';
import { FILE_VECTORS, vectorData } from './vectors.ts';

const keccak = await loadKeccak();
const fast = await loadSegmentHasher();
const reference = keccakSegmentHasher(keccak);

/** Deterministic bytes (xorshift), so a failure reproduces. */
function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

describe('SIMD segment hasher', () => {
  it('runs the SIMD module on this Node', () => {
    assert.equal(fast.simd, true);
  });

  it('gives segmentRoot for every data length and padding shape, odd counts included', () => {
    const shapes: [number, number][] = [
      [0, 1], [1, 1], [255, 1], [256, 1], [257, 2], [300, 5], [3 * CHUNK_SIZE, 3], [7 * CHUNK_SIZE, 7],
      [100 * CHUNK_SIZE, 1023], [512 * CHUNK_SIZE, 600], [1000, 1000], [SEGMENT_SIZE - 5, CHUNKS_PER_SEGMENT], [SEGMENT_SIZE, CHUNKS_PER_SEGMENT],
    ];
    shapes.forEach(([length, padded], i) => {
      const data = bytes(length, i + 1);
      assert.equal(toHex(fast.segmentRoot(data, padded)), toHex(segmentRoot(keccak, data, padded)), `${length} bytes in ${padded} chunks`);
    });
  });

  it('gives the roots of many whole segments at once, in place or copied', () => {
    for (const count of [1, 2, 3, SEGMENTS_PER_CALL, SEGMENTS_PER_CALL + 1, 2 * SEGMENTS_PER_CALL + 3]) {
      const data = bytes(count * SEGMENT_SIZE, count);
      assert.deepEqual(fast.fullSegmentRoots(data), reference.fullSegmentRoots(data), `${count} segments`);
    }
    const data = bytes(5 * SEGMENT_SIZE, 99);
    fast.input.set(data);
    assert.deepEqual(fast.fullSegmentRoots(fast.input.subarray(0, data.length)), reference.fullSegmentRoots(data));
  });

  it('refuses what segmentRoot refuses', () => {
    assert.throws(() => fast.segmentRoot(new Uint8Array(3 * CHUNK_SIZE), 2), /invalid data length/);
    assert.throws(() => fast.segmentRoot(new Uint8Array(1), 0), /invalid segment chunk count/);
    assert.throws(() => fast.segmentRoot(new Uint8Array(1), 1025), /invalid segment chunk count/);
    assert.throws(() => fast.fullSegmentRoots(new Uint8Array(SEGMENT_SIZE + 1)), /invalid data length/);
  });

  it('reproduces the SDK vectors through createFileHasher, and matches the chunk-by-chunk tree', () => {
    for (const vector of FILE_VECTORS) {
      const data = vectorData(vector.size);
      const hasher = createFileHasher(keccak, data.length, { segments: fast });
      hasher.update(data);
      const tree = hasher.finish();
      assert.equal(tree.rootHex, vector.root, `${vector.size} bytes`);
      assert.deepEqual(tree.submission, fileTree(keccak, data).submission);
    }
  });
});

describe('createFileHasher.addSegmentRoots', () => {
  it('takes whole segments as roots and the rest as bytes, giving the same tree', () => {
    for (const size of [SEGMENT_SIZE, 3 * SEGMENT_SIZE, 3 * SEGMENT_SIZE + 1, 17 * SEGMENT_SIZE - 300, 5242881]) {
      const data = bytes(size, size);
      const whole = Math.floor(size / SEGMENT_SIZE);
      const hasher = createFileHasher(keccak, size);
      hasher.addSegmentRoots(fast.fullSegmentRoots(data.subarray(0, whole * SEGMENT_SIZE)));
      hasher.update(data.subarray(whole * SEGMENT_SIZE));
      const tree = hasher.finish();
      const expected = fileTree(keccak, data);
      assert.equal(tree.rootHex, expected.rootHex, `${size} bytes`);
      assert.deepEqual(tree.segmentRoots, expected.segmentRoots);
      assert.deepEqual(tree.submission, expected.submission);
    }
  });

  it('refuses roots off a segment boundary or past the file', () => {
    const hasher = createFileHasher(keccak, 2 * SEGMENT_SIZE);
    hasher.update(new Uint8Array(100));
    assert.throws(() => hasher.addSegmentRoots(new Uint8Array(32)), /segment boundary/);
    const short = createFileHasher(keccak, SEGMENT_SIZE + 5);
    assert.throws(() => short.addSegmentRoots(new Uint8Array(64)), /more bytes than the declared file size/);
    assert.throws(() => short.addSegmentRoots(new Uint8Array(31)), /32 bytes each/);
  });
});
