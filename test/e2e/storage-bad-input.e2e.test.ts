import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hex } from 'viem';
import { SEGMENT_SIZE } from '../../src/protocol/storage/index.ts';
import type { FileTree } from '../../src/protocol/storage/index.ts';
import { prepareFile, seqOnNode, submitFile } from './storage-helpers.ts';
import type { RpcAnswer, WireSegment } from './storage-helpers.ts';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';

describe('storage node: bad input gets a JSON-RPC error and stores nothing', () => {
  let dir: string;
  let devnet: RunningDevnet;
  let node: string;
  let tree: FileTree;
  let bytes: Buffer;
  let seq: number;
  let segment: (index: number) => WireSegment;

  const rpc = async (body: string): Promise<RpcAnswer> => {
    const response = await fetch(node, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: response.status, body: (await response.json()) as RpcAnswer['body'] };
  };
  const call = (method: string, params?: unknown[]) => rpc(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-storage-bad-'));
    devnet = await startDevnet(dir);
    node = devnet.manifest.storage!.nodes[0]!;
    bytes = Buffer.alloc(SEGMENT_SIZE + 1000, 7);
    ({ tree, segment } = await prepareFile(bytes));
    await submitFile(devnet.manifest, tree, 4);
    seq = await seqOnNode(node, tree.rootHex);
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const rejects = async (method: string, params: unknown[], code: number, pattern: RegExp) => {
    const answer = await call(method, params);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.error?.code, code, JSON.stringify(answer.body));
    assert.match(`${answer.body.error?.message} ${answer.body.error?.data ?? ''}`, pattern);
  };

  it('answers malformed JSON-RPC with error objects', async () => {
    assert.equal((await rpc('{oops')).body.error?.code, -32700);
    assert.equal((await rpc('{"jsonrpc":"2.0","id":1}')).body.error?.code, -32600);
    assert.equal((await call('zgs_noSuchMethod')).body.error?.code, -32601);
    await rejects('zgs_getFileInfo', ['not-a-root', true], -32602, /Invalid params: data_root/);
    await rejects('zgs_uploadSegmentsByTxSeq', ['nope', seq], -32602, /Invalid params: segments/);
  });

  it('rejects a wrong proof, size, index and an oversized segment', async () => {
    const tampered = segment(0);
    tampered.proof = { ...tampered.proof, lemma: [...tampered.proof.lemma] };
    tampered.proof.lemma[1] = `0x${'ab'.repeat(32)}`;
    await rejects('zgs_uploadSegmentsByTxSeq', [[tampered], seq], -32602, /validation failed/);

    const wrongData = segment(0);
    wrongData.data = Buffer.alloc(SEGMENT_SIZE, 9).toString('base64');
    await rejects('zgs_uploadSegmentsByTxSeq', [[wrongData], seq], -32602, /validation failed/);

    await rejects('zgs_uploadSegmentsByTxSeq', [[{ ...segment(0), fileSize: bytes.length + 1 }], seq], -32603, /file size not matched/);
    await rejects('zgs_uploadSegmentsByTxSeq', [[{ ...segment(0), index: 5 }], seq], -32602, /index out of bound/);
    await rejects('zgs_uploadSegmentsByTxSeq', [[{ ...segment(1), data: Buffer.alloc(512, 7).toString('base64') }], seq], -32602, /invalid data length/);
    const oversized = { ...segment(0), data: Buffer.alloc(SEGMENT_SIZE + 256).toString('base64') };
    await rejects('zgs_uploadSegmentsByTxSeq', [[oversized], seq], -32602, /over 256 KiB/);
  });

  it('rejects segments for an unknown root or an unpaid submission', async () => {
    const stranger = { ...segment(0), root: `0x${'12'.repeat(32)}` as Hex };
    await rejects('zgs_uploadSegment', [stranger], -32603, /no submission with this root/);
    await rejects('zgs_uploadSegmentsByTxSeq', [[segment(0)], seq + 100], -32603, /no submission with tx seq/);
    assert.equal((await call('zgs_getFileInfo', [stranger.root, true])).body.result, null);
    assert.equal((await call('zgs_downloadSegment', [stranger.root, 0, 1])).body.result, null);
  });

  it('stored nothing from all that, and still takes the real segments', async () => {
    const info = (await call('zgs_getFileInfoByTxSeq', [seq])).body.result as { uploadedSegNum: number; finalized: boolean };
    assert.equal(info.uploadedSegNum, 0);
    assert.equal((await call('zgs_downloadSegmentByTxSeq', [seq, 0, 1])).body.result, null);

    assert.equal((await call('zgs_uploadSegmentsByTxSeq', [[segment(0), segment(1)], seq])).body.result, null);
    const after = (await call('zgs_getFileInfoByTxSeq', [seq])).body.result as { uploadedSegNum: number; finalized: boolean };
    assert.deepEqual([after.uploadedSegNum, after.finalized], [2, true]);
    await rejects('zgs_uploadSegmentsByTxSeq', [[segment(0)], seq], -32602, /already uploaded and finalized/);
    const chunk = (await call('zgs_downloadSegmentByTxSeq', [seq, 1024, 1028])).body.result as string;
    assert.equal(Buffer.from(chunk, 'base64').subarray(0, 1000).toString('hex'), bytes.subarray(SEGMENT_SIZE).toString('hex'));
    await rejects('zgs_downloadSegmentByTxSeq', [seq, 5, 5], -32602, /invalid chunk index/);
    await rejects('zgs_downloadSegmentByTxSeq', [seq, 0, 2000], -32602, /exceeds maximum chunks|out of bound/);
  });
});
