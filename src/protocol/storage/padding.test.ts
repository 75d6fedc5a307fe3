import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import {
  chunkCount,
  lastSegmentChunkCount,
  nextPow2,
  paddedChunkCount,
  paddedSegmentCount,
  sectorCount,
  segmentCount,
  segmentDataLength,
  submissionHeights,
} from './padding.ts';
import { FILE_VECTORS } from './vectors.ts';

describe('padding', () => {
  for (const v of FILE_VECTORS) {
    it(`matches the §4.6 table for ${v.size} B`, () => {
      assert.equal(chunkCount(v.size), v.chunks);
      assert.equal(paddedChunkCount(v.size), v.padded);
      assert.equal(paddedSegmentCount(v.size), v.segments);
      assert.deepEqual(submissionHeights(v.size), v.heights);
      assert.equal(sectorCount(v.size), v.sectors);
    });
  }

  it('splits padded counts as in §4.4', () => {
    assert.deepEqual(submissionHeights(1152 * 256), [10, 7]);
    assert.deepEqual(submissionHeights(22528 * 256), [14, 12, 11]);
  });

  it('never needs more than four nodes, spanning fewer than four heights', () => {
    for (let chunks = 1; chunks < 70_000; chunks += 37) {
      const heights = submissionHeights(chunks * 256);
      assert.ok(heights.length <= 4);
      assert.ok(heights[0]! - heights[heights.length - 1]! < 4);
    }
  });

  it('counts data segments apart from padding-only ones', () => {
    // 16385 chunks pad to 18432: 17 segments hold data, the 18th is all padding.
    const size = 16384 * 256 + 1;
    assert.equal(paddedChunkCount(size), 18432);
    assert.equal(segmentCount(size), 17);
    assert.equal(paddedSegmentCount(size), 18);
    assert.equal(lastSegmentChunkCount(size), 1024);
    assert.equal(lastSegmentChunkCount(300000), 256);
  });

  it('gives the upload length of each data segment', () => {
    assert.equal(segmentDataLength(300000, 0), 262144);
    assert.equal(segmentDataLength(300000, 1), 37888); // 37856 B rounded up to whole chunks
    assert.equal(segmentDataLength(262144, 0), 262144);
    assert.throws(() => segmentDataLength(300000, 2), { shortMessage: 'index out of bound', code: 'STORAGE_INDEX_OUT_OF_BOUND' });
  });

  it('handles sizes past 32-bit arithmetic', () => {
    const size = 2 ** 40 + 1; // 1 TiB + 1
    assert.equal(chunkCount(size), 2 ** 32 + 1);
    assert.equal(paddedChunkCount(size), 2 ** 32 + 2 ** 29);
    assert.deepEqual(submissionHeights(size), [32, 29]);
    assert.equal(nextPow2(2 ** 45 + 1), 2 ** 46);
  });

  it('rejects empty, fractional and oversized files', () => {
    for (const size of [0, -1, 1.5, Number.NaN, 2 ** 53 + 2]) {
      assert.throws(() => paddedChunkCount(size), (error: unknown) => {
        assert.ok(error instanceof InvalidInputError);
        assert.equal(error.code, 'STORAGE_INVALID_SIZE');
        return true;
      });
    }
  });
});
