import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKeccak, segmentCount, verifySegment } from '../../src/protocol/storage/index.ts';
import type { SegmentProof } from '../../src/protocol/storage/index.ts';
import { startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet, RunningNode } from './devnet-process.ts';
import { eventually, prepareFile, rawRpc, submitFile } from './storage-helpers.ts';

describe('a storage node killed with -9 in the middle of an upload', () => {
  let dir: string;
  let devnet: RunningDevnet;
  let node: RunningNode | undefined;
  const startStorageNode = () =>
    startNode(['--role', 'storage-node', '--devnet', join(dir, 'devnet'), '--data-dir', join(dir, 'node'), '--port-base', '0']);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-storage-crash-'));
    devnet = await startDevnet(join(dir, 'devnet'), [], 60_000, { LEVITY_STORAGE_NODES: '0' });
    node = await startStorageNode();
  });
  after(async () => {
    await node?.stop();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('loses nothing it acknowledged, takes the rest after a restart and serves the file intact', async () => {
    const bytes = randomBytes(16 * 1024 * 1024 + 12345);
    const { tree, segment } = await prepareFile(bytes);
    const total = segmentCount(bytes.length);
    await submitFile(devnet.manifest, tree, 5);
    let url = node!.endpoints[0]!.url;
    const seq = await eventually(async () => ((await rawRpc(url, 'zgs_getFileInfo', [tree.rootHex, true])).body.result as { tx: { seq: number } } | null)?.tx.seq);

    // Upload every segment at once and pull the plug when some, not all, are acknowledged.
    const acknowledged: number[] = [];
    const victim = node!;
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
    await victim.stop();
    assert.ok(acknowledged.length < total, 'the kill landed in the middle of the upload');

    node = await startStorageNode();
    url = node.endpoints[0]!.url;
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
