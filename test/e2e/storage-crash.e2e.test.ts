import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadKeccak, segmentCount, verifySegment } from '../../src/protocol/storage/index.ts';
import type { SegmentProof } from '../../src/protocol/storage/index.ts';
import { prepareFile, rawRpc, seqOnNode, startLoneStorageNode, submitFile } from './storage-helpers.ts';
import type { LoneStorageNode } from './storage-helpers.ts';

describe('a storage node killed with -9 in the middle of an upload', () => {
  let lone: LoneStorageNode;
  before(async () => {
    lone = await startLoneStorageNode('levity-storage-crash-');
  });
  after(async () => {
    await lone?.stop();
  });

  it('loses nothing it acknowledged, takes the rest after a restart and serves the file intact', async () => {
    const bytes = randomBytes(16 * 1024 * 1024 + 12345);
    const { tree, segment } = await prepareFile(bytes);
    const total = segmentCount(bytes.length);
    await submitFile(lone.devnet.manifest, tree, 5);
    let url = lone.url();
    const seq = await seqOnNode(url, tree.rootHex);

    // Upload every segment at once and pull the plug when some, not all, are acknowledged.
    const acknowledged: number[] = [];
    const victim = lone.node();
    const uploads = Array.from({ length: total }, (_, index) =>
      rawRpc(url, 'zgs_uploadSegmentsByTxSeq', [[segment(index)], seq])
        .then((answer) => {
          if (answer.body.error !== undefined) return;
          acknowledged.push(index);
          if (acknowledged.length === 1) victim.child.kill('SIGKILL');
        })
        .catch(() => undefined),
    );
    await Promise.all(uploads);
    assert.ok(acknowledged.length < total, 'the kill landed in the middle of the upload');

    await lone.restart();
    url = lone.url();
    const before = (await rawRpc(url, 'zgs_getFileInfoByTxSeq', [seq])).body.result as { uploadedSegNum: number; finalized: boolean };
    assert.ok(before.uploadedSegNum >= acknowledged.length, `${before.uploadedSegNum} stored ≥ ${acknowledged.length} acknowledged`);
    assert.equal(before.finalized, false);

    // Finish: send everything again; what is already there is skipped.
    for (let index = 0; index < total; index++) {
      const answer = await rawRpc(url, 'zgs_uploadSegmentsByTxSeq', [[segment(index)], seq]);
      assert.ok(answer.body.error === undefined || /already uploaded and finalized/.test(String(answer.body.error.data)));
    }
    const info = (await rawRpc(url, 'zgs_getFileInfoByTxSeq', [seq])).body.result as { uploadedSegNum: number; finalized: boolean };
    assert.deepEqual([info.uploadedSegNum, info.finalized], [total, true]);

    // Every segment comes back with a proof that holds against the root, and the bytes are the file's.
    const keccak = await loadKeccak();
    const parts: Buffer[] = [];
    for (let index = 0; index < total; index++) {
      const got = (await rawRpc(url, 'zgs_downloadSegmentWithProofByTxSeq', [seq, index])).body.result as { data: string; proof: SegmentProof };
      const data = Buffer.from(got.data, 'base64');
      verifySegment(keccak, { root: tree.rootHex, data, index, proof: got.proof, fileSize: bytes.length });
      parts.push(data);
    }
    assert.ok(Buffer.compare(Buffer.concat(parts).subarray(0, bytes.length), bytes) === 0, 'byte-exact after the crash');
  });
});
