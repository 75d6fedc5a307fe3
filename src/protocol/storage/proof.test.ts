import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../errors.ts';
import { toHex } from './bytes.ts';
import type { Hex } from './bytes.ts';
import { SEGMENT_SIZE, zeroHashes } from './constants.ts';
import { loadKeccak } from './keccak.ts';
import { fileTree, treeRoot } from './merkle.ts';
import { segmentDataLength, segmentCount } from './padding.ts';
import { segmentProof, segmentProver, verifySegment } from './proof.ts';
import type { SegmentProof, VerifySegmentParameters } from './proof.ts';
import { PROOF_VECTOR, vectorData } from './vectors.ts';

const keccak = await loadKeccak();

/** Segment `index` as an uploader sends it: its bytes, the tail zero-padded to whole chunks. */
function uploadData(file: Uint8Array, index: number): Uint8Array {
  const out = new Uint8Array(segmentDataLength(file.length, index));
  out.set(file.subarray(index * SEGMENT_SIZE, index * SEGMENT_SIZE + out.length));
  return out;
}

function rejects(params: VerifySegmentParameters, shortMessage: string, code: string): void {
  assert.throws(
    () => verifySegment(keccak, params),
    (error: unknown) => {
      assert.ok(error instanceof InvalidInputError, `expected InvalidInputError, got ${String(error)}`);
      assert.equal(error.shortMessage, shortMessage);
      assert.equal(error.code, code);
      return true;
    },
  );
}

const flip = (hex: Hex): Hex => `${hex.slice(0, -1)}${hex.endsWith('0') ? '1' : '0'}` as Hex;

describe('segment proof', () => {
  it('matches the §4.5 vector (300000 B)', () => {
    const tree = fileTree(keccak, vectorData(PROOF_VECTOR.size));
    const [seg0, seg1] = PROOF_VECTOR.segmentRoots;
    const root = toHex(keccak.hashPair(tree.segmentRoots[0]!, tree.segmentRoots[1]!));
    assert.equal(tree.rootHex, root);
    assert.deepEqual(segmentProof(keccak, tree.segmentRoots, 0), { lemma: [seg0, seg1, root], path: [true] });
    assert.deepEqual(segmentProof(keccak, tree.segmentRoots, 1), { lemma: [seg1, seg0, root], path: [false] });
  });

  it('is [root] with an empty path for a one-segment file', () => {
    for (const size of [1, 1000, 262144]) {
      const file = vectorData(size);
      const tree = fileTree(keccak, file);
      const proof = segmentProof(keccak, tree.segmentRoots, 0);
      assert.deepEqual(proof, { lemma: [tree.rootHex], path: [] });
      verifySegment(keccak, { root: tree.rootHex, data: uploadData(file, 0), index: 0, proof, fileSize: size });
    }
  });

  it('skips levels where the segment is promoted', () => {
    // 3 segments: segment 2 is promoted past level 0, so its proof has one sibling.
    const roots = [1, 2, 3].map((n) => keccak.hash(new Uint8Array([n])));
    const proof = segmentProof(keccak, roots, 2);
    assert.deepEqual(proof.path, [false]);
    assert.equal(proof.lemma[1], toHex(keccak.hashPair(roots[0]!, roots[1]!)));
    assert.equal(proof.lemma[2], toHex(treeRoot(keccak, roots)));
    assert.throws(() => segmentProof(keccak, roots, 3), { shortMessage: 'index out of bound' });
  });
});

describe('verifySegment', () => {
  const size = 5 * 1024 * 1024 + 1; // 20 full data segments, 1 of one chunk, 1 of padding only
  const file = vectorData(size);
  const tree = fileTree(keccak, file);
  const prove = segmentProver(keccak, tree.segmentRoots);
  const params = (index: number, over: Partial<VerifySegmentParameters> = {}): VerifySegmentParameters => ({
    root: tree.rootHex,
    data: uploadData(file, index),
    index,
    proof: prove(index),
    fileSize: size,
    ...over,
  });

  it('accepts every data segment of the 5 MiB+1 file', () => {
    assert.equal(segmentCount(size), 21);
    assert.equal(tree.segmentRoots.length, 22);
    const zero = zeroHashes(keccak);
    for (let index = 0; index < 21; index++) {
      verifySegment(keccak, params(index));
      verifySegment(keccak, params(index, { root: tree.root, zero }));
    }
  });

  it('accepts both segments of 300000 B, the last one rounded up to whole chunks', () => {
    const small = vectorData(300000);
    const smallTree = fileTree(keccak, small);
    for (const index of [0, 1]) {
      const proof = segmentProof(keccak, smallTree.segmentRoots, index);
      verifySegment(keccak, { root: smallTree.rootHex, data: uploadData(small, index), index, proof, fileSize: 300000 });
    }
  });

  it('checks a padding-only sibling against the zero subtree and accepts the real one', () => {
    // 16385 chunks: 17 data segments; segment 17 is padding, segment 16's sibling.
    const big = vectorData(16384 * 256 + 1);
    const bigTree = fileTree(keccak, big);
    const proof = segmentProof(keccak, bigTree.segmentRoots, 16);
    assert.equal(proof.lemma[1], toHex(zeroHashes(keccak, 11)[10]!));
    verifySegment(keccak, { root: bigTree.rootHex, data: uploadData(big, 16), index: 16, proof, fileSize: big.length });
    verifySegment(keccak, { root: bigTree.rootHex, data: uploadData(big, 16), index: 16, proof, fileSize: big.length, zero: [] });
  });

  it('rejects an index past the data segments', () => {
    rejects(params(20, { index: 21 }), 'index out of bound', 'STORAGE_INDEX_OUT_OF_BOUND');
    rejects(params(20, { index: -1 }), 'index out of bound', 'STORAGE_INDEX_OUT_OF_BOUND');
    rejects(params(20, { index: 1.5 }), 'index out of bound', 'STORAGE_INDEX_OUT_OF_BOUND');
  });

  it('rejects the wrong length', () => {
    rejects(params(3, { data: uploadData(file, 3).subarray(256) }), 'invalid data length', 'STORAGE_INVALID_DATA_LENGTH');
    rejects(params(20, { data: new Uint8Array(512) }), 'invalid data length', 'STORAGE_INVALID_DATA_LENGTH');
    rejects(params(20, { data: new Uint8Array(100) }), 'invalid data length', 'STORAGE_INVALID_DATA_LENGTH');
    rejects(params(0, { data: new Uint8Array() }), 'invalid data length', 'STORAGE_INVALID_DATA_LENGTH');
  });

  it('rejects a malformed proof', () => {
    const proof = prove(5);
    rejects(params(5, { proof: { lemma: proof.lemma.slice(1), path: proof.path } }), 'invalid proof', 'STORAGE_INVALID_PROOF');
    // Well-formed (one-segment shape) but for the wrong tree: the format passes, the position does not.
    rejects(params(5, { proof: { lemma: [tree.rootHex], path: [] } }), 'validation failed', 'STORAGE_INVALID_PROOF');
    rejects(params(5, { proof: { lemma: [tree.rootHex, tree.rootHex], path: [] } }), 'invalid proof', 'STORAGE_INVALID_PROOF');
    const shortHex = { lemma: proof.lemma.map((node, i) => (i === 2 ? (node.slice(0, 40) as Hex) : node)), path: proof.path };
    rejects(params(5, { proof: shortHex }), 'invalid proof', 'STORAGE_INVALID_PROOF');
    rejects(params(5, { proof: { lemma: proof.lemma, path: [1, 0, 1, 0, 1] } as unknown as SegmentProof }), 'invalid proof', 'STORAGE_INVALID_PROOF');
  });

  it('rejects tampered data', () => {
    const data = uploadData(file, 7);
    data[1000] = data[1000]! ^ 1;
    rejects(params(7, { data }), 'validation failed', 'STORAGE_INVALID_PROOF');
  });

  it('rejects a proof for another segment', () => {
    rejects(params(4, { proof: prove(3) }), 'validation failed', 'STORAGE_INVALID_PROOF');
    rejects(params(4, { index: 3 }), 'validation failed', 'STORAGE_INVALID_PROOF');
  });

  it('rejects a wrong lemma node', () => {
    const proof = prove(9);
    for (let i = 0; i < proof.lemma.length; i++) {
      const lemma = proof.lemma.map((node, j) => (j === i ? flip(node) : node));
      rejects(params(9, { proof: { lemma, path: proof.path } }), 'validation failed', 'STORAGE_INVALID_PROOF');
    }
    const path = proof.path.map((step, j) => (j === 0 ? !step : step));
    rejects(params(9, { proof: { lemma: proof.lemma, path } }), 'validation failed', 'STORAGE_INVALID_PROOF');
  });

  it('rejects the wrong root', () => {
    rejects(params(2, { root: flip(tree.rootHex) }), 'validation failed', 'STORAGE_INVALID_PROOF');
    rejects(params(2, { root: '0x1234' }), 'invalid proof', 'STORAGE_INVALID_PROOF');
  });

  it('rejects a consistent proof whose padding-only sibling is not zero', () => {
    // A tree where the padding segment holds something: every hash checks out against its
    // root, so only the rear-padding rule can catch it.
    const forged = [...tree.segmentRoots];
    forged[21] = keccak.hash(new Uint8Array([1]));
    const proof = segmentProof(keccak, forged, 20);
    const root = treeRoot(keccak, forged);
    rejects(params(20, { root, proof }), 'invalid proof node value in the padding range', 'STORAGE_INVALID_PADDING_PROOF');
  });
});
