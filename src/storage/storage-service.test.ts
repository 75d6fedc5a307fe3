import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ownedSegmentCount, ownedSegments } from './storage-service.ts';

describe('segment ownership', () => {
  it('counts owned segments arithmetically exactly as listing them does', () => {
    for (const numShard of [1, 2, 4, 8]) {
      for (let shardId = 0; shardId < numShard; shardId++) {
        for (const size of [1, 262144, 262145, 5 * 1024 * 1024 + 1, 9 * 262144]) {
          for (const startEntryIndex of [1, 1024, 3072, 5120, 7 * 1024 + 16]) {
            const tx = { size, startEntryIndex };
            const shard = { shardId, numShard };
            assert.equal(ownedSegmentCount(tx, shard), ownedSegments(tx, shard).length, JSON.stringify({ tx, shard }));
          }
        }
      }
    }
  });
});
