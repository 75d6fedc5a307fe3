import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeBytes } from './bytes.ts';
import { loadKeccak } from './keccak.ts';
import { fileTree } from './merkle.ts';
import { flowPlacement, submissionRoot } from './submission.ts';
import { FILE_VECTORS, vectorData } from './vectors.ts';

const keccak = await loadKeccak();

describe('submissionRoot', () => {
  it('folds every vector file back to its root', () => {
    for (const v of FILE_VECTORS) {
      const nodes = fileTree(keccak, vectorData(v.size)).submission.nodes;
      assert.equal(submissionRoot(keccak, nodes), v.root);
      // As decoded from a Submit event: bigint heights, byte roots.
      const decoded = nodes.map((node) => ({ root: nodeBytes(node.root)!, height: BigInt(node.height) }));
      assert.equal(submissionRoot(keccak, decoded), v.root);
    }
  });

  it('rejects an empty submission or a malformed root', () => {
    assert.throws(() => submissionRoot(keccak, []), { code: 'STORAGE_INVALID_INPUT' });
    assert.throws(() => submissionRoot(keccak, [{ root: '0x12', height: 0 }]), { code: 'STORAGE_INVALID_INPUT' });
  });
});

describe('flowPlacement', () => {
  it('moves a file that would straddle a segment boundary onto the boundary (§4.8)', () => {
    // 512+128 chunks at length 14 align to 512, but [512, 1152) crosses 1024.
    assert.deepEqual(flowPlacement(14, [9, 7]), { startIndex: 1024n, positions: [1024n, 1536n], nextLength: 1664n });
  });

  it('places small files at the next aligned entry', () => {
    assert.deepEqual(flowPlacement(1, [0]), { startIndex: 1n, positions: [1n], nextLength: 2n });
    assert.deepEqual(flowPlacement(2n, [1]), { startIndex: 2n, positions: [2n], nextLength: 4n });
    assert.deepEqual(flowPlacement(3, [2]), { startIndex: 4n, positions: [4n], nextLength: 8n });
    // Fits inside one segment without starting it: stays put.
    assert.deepEqual(flowPlacement(900, [6]), { startIndex: 960n, positions: [960n], nextLength: 1024n });
    assert.deepEqual(flowPlacement(2176, [2]), { startIndex: 2176n, positions: [2176n], nextLength: 2180n });
  });

  it('places multi-node files node by node', () => {
    // 262145 B from a fresh flow: [10, 7].
    assert.deepEqual(flowPlacement(1, [10, 7]), { startIndex: 1024n, positions: [1024n, 2048n], nextLength: 2176n });
    assert.deepEqual(flowPlacement(900, [6, 5]), { startIndex: 1024n, positions: [1024n, 1088n], nextLength: 1120n });
    // 5 MiB+1 after it: [14, 12, 11] aligns to 16384.
    assert.deepEqual(flowPlacement(2176n, [14, 12, 11]), {
      startIndex: 16384n,
      positions: [16384n, 32768n, 36864n],
      nextLength: 38912n,
    });
  });

  it('works past 2^53 and rejects nonsense', () => {
    assert.equal(flowPlacement(2n ** 60n + 1n, [40]).startIndex, 2n ** 60n + 2n ** 40n);
    assert.throws(() => flowPlacement(1, []), { code: 'STORAGE_INVALID_INPUT' });
    assert.throws(() => flowPlacement(-1, [0]), { code: 'STORAGE_INVALID_INPUT' });
    assert.throws(() => flowPlacement(1, [-1]), { code: 'STORAGE_INVALID_INPUT' });
  });
});
