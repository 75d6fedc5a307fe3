import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBufferPool } from './buffer-pool.ts';

const MIB = 1024 * 1024;

describe('createBufferPool', () => {
  it('hands out views of exactly the length asked for, over shared memory', () => {
    const pool = createBufferPool({ maxFree: 4 });
    const view = pool.take(MIB + 5);
    assert.equal(view.length, MIB + 5);
    assert.ok(view.buffer instanceof SharedArrayBuffer);
    assert.equal(view.buffer.byteLength, 2 * MIB);
  });

  it('reuses the smallest free buffer that fits, whatever size it was made for', () => {
    const pool = createBufferPool({ maxFree: 4 });
    const big = pool.take(5 * MIB);
    const small = pool.take(MIB);
    pool.give(big);
    pool.give(small);
    assert.equal(pool.take(100).buffer, small.buffer);
    assert.equal(pool.take(100).buffer, big.buffer, 'a bigger buffer serves a small batch');
    assert.notEqual(pool.take(100).buffer, big.buffer);
  });

  it('keeps at most maxFree buffers, dropping the smallest, and never one twice', () => {
    const pool = createBufferPool({ maxFree: 2 });
    const views = [pool.take(MIB), pool.take(3 * MIB), pool.take(2 * MIB)];
    for (const view of views) pool.give(view);
    pool.give(views[1]!);
    const kept = [pool.take(1), pool.take(1), pool.take(1)].map((view) => view.buffer);
    assert.deepEqual(kept.slice(0, 2), [views[2]!.buffer, views[1]!.buffer]);
    assert.ok(!views.some((view) => view.buffer === kept[2]));
  });

  it('reserves touched buffers up front, counting the free ones that already fit', () => {
    const pool = createBufferPool({ maxFree: 3 });
    pool.give(pool.take(5 * MIB));
    pool.reserve(5, 4 * MIB);
    const taken = [pool.take(4 * MIB), pool.take(4 * MIB), pool.take(4 * MIB)];
    assert.equal(new Set(taken.map((view) => view.buffer)).size, 3);
    assert.ok(taken.every((view) => view.buffer.byteLength >= 4 * MIB));
  });
});
