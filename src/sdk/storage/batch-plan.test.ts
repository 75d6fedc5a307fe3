import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchPlan } from './batch-plan.ts';

describe('batchPlan', () => {
  it('covers every segment once, in order, within the batch limit', () => {
    for (const segments of [1, 2, 15, 16, 17, 63, 64, 91, 92, 93, 255, 256, 257, 1024, 4099]) {
      const plan = batchPlan(segments, 16);
      let next = 0;
      for (const { first, count } of plan) {
        assert.equal(first, next, `${segments} segments: contiguous`);
        assert.ok(count >= 1 && count <= 16, `${segments} segments: ${count} in a batch`);
        next += count;
      }
      assert.equal(next, segments);
    }
  });

  it('ramps up and down on long files, and cuts short ones in full batches', () => {
    const counts = (segments: number) => batchPlan(segments, 16).map((batch) => batch.count);
    assert.deepEqual(counts(256), [2, 4, 8, ...Array<number>(14).fill(16), 4, 8, 4, 2]);
    assert.deepEqual(counts(40), [16, 16, 8]);
    assert.deepEqual(counts(5), [5]);
    // A batch limit below the ramp's steps keeps only the steps that fit.
    assert.deepEqual(batchPlan(64, 4).slice(0, 3), [{ first: 0, count: 2 }, { first: 2, count: 4 }, { first: 6, count: 4 }]);
  });
});
