import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeBytes, toHex } from './bytes.ts';
import { CHUNK_SIZE, CHUNKS_PER_SEGMENT, EMPTY_CHUNK_HASH } from './constants.ts';
import { loadKeccak } from './keccak.ts';
import type { Keccak } from './keccak.ts';
import { createFileHasher, fileTree, segmentRoot, treeRoot } from './merkle.ts';
import type { FileTree } from './merkle.ts';
import { paddedChunkCount, paddedSegmentCount, submissionHeights } from './padding.ts';
import { submissionRoot } from './submission.ts';
import { FILE_VECTORS, PROOF_VECTOR, vectorData } from './vectors.ts';

const keccak = await loadKeccak();

function streamed(data: Uint8Array, piece: number): FileTree {
  const hasher = createFileHasher(keccak, data.length);
  for (let offset = 0; offset < data.length; offset += piece) hasher.update(data.subarray(offset, offset + piece));
  return hasher.finish();
}

/** Every padded leaf, straight from the definition: hash each zero-padded chunk, then EMPTY. */
function paddedLeaves(k: Keccak, data: Uint8Array): Uint8Array[] {
  const leaves: Uint8Array[] = [];
  for (let offset = 0; offset < data.length; offset += CHUNK_SIZE) {
    const chunk = new Uint8Array(CHUNK_SIZE);
    chunk.set(data.subarray(offset, offset + CHUNK_SIZE));
    leaves.push(k.hash(chunk));
  }
  const empty = nodeBytes(EMPTY_CHUNK_HASH)!;
  while (leaves.length < paddedChunkCount(data.length)) leaves.push(empty);
  return leaves;
}

/** Checks a tree against the literal definitions (§4.3–4.4), sharing no code with the hasher. */
function assertConsistent(data: Uint8Array, tree: FileTree): void {
  const leaves = paddedLeaves(keccak, data);
  assert.equal(tree.segmentRoots.length, paddedSegmentCount(data.length));
  tree.segmentRoots.forEach((root, i) => {
    const slice = leaves.slice(i * CHUNKS_PER_SEGMENT, (i + 1) * CHUNKS_PER_SEGMENT);
    assert.deepEqual(root, treeRoot(keccak, slice), `segment ${i}`);
  });
  assert.deepEqual(tree.root, treeRoot(keccak, tree.segmentRoots));
  // Promote-odd over segment roots equals promote-odd over all padded leaves.
  assert.deepEqual(tree.root, treeRoot(keccak, leaves));
  assert.deepEqual(
    tree.submission.nodes.map((node) => node.height),
    submissionHeights(data.length),
  );
  let start = 0;
  for (const node of tree.submission.nodes) {
    const span = 2 ** node.height;
    assert.equal(node.root, toHex(treeRoot(keccak, leaves.slice(start, start + span))), `node of height ${node.height}`);
    start += span;
  }
  assert.equal(start, leaves.length);
  assert.equal(submissionRoot(keccak, tree.submission.nodes), tree.rootHex);
  assert.equal(tree.submission.length, data.length);
  assert.equal(tree.size, data.length);
}

describe('file tree', () => {
  for (const v of FILE_VECTORS) {
    it(`reproduces the SDK root for ${v.size} B, whole and streamed`, () => {
      const data = vectorData(v.size);
      const whole = fileTree(keccak, data);
      assert.equal(whole.rootHex, v.root);
      assert.deepEqual(
        whole.submission.nodes.map((node) => node.height),
        v.heights,
      );
      assert.equal(whole.segmentRoots.length, v.segments);
      // foldRight(nodes) == file root, the invariant a node relies on (§4.4).
      assert.equal(submissionRoot(keccak, whole.submission.nodes), v.root);
      for (const piece of [1, 7, 4097, 300001]) {
        assert.deepEqual(streamed(data, piece), whole, `pieces of ${piece} B`);
      }
    });
  }

  it('gives the §4.5 segment roots for 300000 B', () => {
    const tree = fileTree(keccak, vectorData(PROOF_VECTOR.size));
    assert.deepEqual(tree.segmentRoots.map(toHex), PROOF_VECTOR.segmentRoots);
    assert.deepEqual(tree.root, keccak.hashPair(tree.segmentRoots[0]!, tree.segmentRoots[1]!));
  });

  it('matches the definitions for sizes around every boundary', () => {
    const sizes = [2, 511, 512, 513, 3 * 256 + 5, 17 * 256, 1023 * 256 + 1, 1024 * 256 - 1, 2048 * 256 + 1, 3073 * 256, 4097 * 256];
    // 16385 chunks pad to 18432: the last segment holds only padding.
    sizes.push(16384 * 256 + 1, 16384 * 256 + 2049 * 256);
    for (const size of sizes) {
      const data = vectorData(size);
      const tree = streamed(data, 1 + (size % 997));
      assertConsistent(data, tree);
      assert.deepEqual(fileTree(keccak, data), tree, `${size} B`);
    }
  });

  it('matches the definitions on the vector files', () => {
    for (const v of FILE_VECTORS) assertConsistent(vectorData(v.size), fileTree(keccak, vectorData(v.size)));
  });

  it('refuses more or fewer bytes than declared, and use after finish', () => {
    const hasher = createFileHasher(keccak, 10);
    assert.throws(() => hasher.update(new Uint8Array(11)), { code: 'STORAGE_INVALID_INPUT' });
    hasher.update(new Uint8Array(4));
    assert.throws(() => hasher.finish(), { shortMessage: 'fewer bytes than the declared file size' });
    hasher.update(new Uint8Array(6));
    hasher.finish();
    assert.throws(() => hasher.finish(), { shortMessage: 'file hasher already finished' });
    assert.throws(() => createFileHasher(keccak, 0), { code: 'STORAGE_INVALID_SIZE' });
  });
});

describe('segment root', () => {
  it('pads the last chunk and adds empty leaves up to the padded count', () => {
    const data = vectorData(300000).subarray(262144);
    const tree = fileTree(keccak, vectorData(300000));
    assert.deepEqual(segmentRoot(keccak, data, 256), tree.segmentRoots[1]);
    const rounded = new Uint8Array(37888);
    rounded.set(data);
    assert.deepEqual(segmentRoot(keccak, rounded, 256), tree.segmentRoots[1]);
  });

  it('of no data is the zero subtree', () => {
    const empty = nodeBytes(EMPTY_CHUNK_HASH)!;
    assert.deepEqual(segmentRoot(keccak, new Uint8Array(), 1), empty);
    assert.deepEqual(segmentRoot(keccak, new Uint8Array(), 2), keccak.hashPair(empty, empty));
  });

  it('rejects data longer than its chunks', () => {
    assert.throws(() => segmentRoot(keccak, new Uint8Array(257), 1), { shortMessage: 'invalid data length' });
    assert.throws(() => segmentRoot(keccak, new Uint8Array(1), 1025), { code: 'STORAGE_INVALID_INPUT' });
  });
});

describe('tree root', () => {
  it('promotes a trailing odd node unchanged', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((s) => keccak.hash(new TextEncoder().encode(s))) as [Uint8Array, Uint8Array, Uint8Array];
    assert.deepEqual(treeRoot(keccak, [a]), a);
    assert.deepEqual(treeRoot(keccak, [a, b, c]), keccak.hashPair(keccak.hashPair(a, b), c));
    assert.throws(() => treeRoot(keccak, []), { code: 'STORAGE_INVALID_INPUT' });
  });
});
