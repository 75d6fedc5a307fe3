/**
 * Levity's binary segment routes against real nodes: our client uploads and downloads through
 * them (and through 0G's JSON-RPC when told not to use them), a node refuses bad batches with
 * typed 4xx errors and stores nothing, and a node killed with -9 mid-upload keeps every batch it
 * acknowledged.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hex } from 'viem';
import {
  batchDataLength,
  encodeSegmentBatch,
  MAX_BATCH_SEGMENTS,
  SEGMENT_BATCH_CONTENT_TYPE,
  SEGMENT_SIZE,
  segmentCount,
} from '../../src/protocol/storage/index.ts';
import type { FileTree } from '../../src/protocol/storage/index.ts';
import { downloadFile, uploadFile } from '../../src/sdk/index.ts';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { prepareFile, rawRpc, seqOnNode, startLoneStorageNode, submitFile } from './storage-helpers.ts';
import type { LoneStorageNode } from './storage-helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

type FileState = { uploadedSegNum: number; finalized: boolean };

/** Segments first … first+count-1 of `bytes` as a binary batch, one byte flipped in segment `corrupt` if given. */
function batchOf(bytes: Buffer, tree: FileTree, proofOf: (index: number) => { lemma: Hex[]; path: boolean[] }, first: number, count: number, corrupt?: number) {
  const data = new Uint8Array(batchDataLength(bytes.length, first, count));
  data.set(bytes.subarray(first * SEGMENT_SIZE, Math.min(bytes.length, (first + count) * SEGMENT_SIZE)));
  if (corrupt !== undefined) data[(corrupt - first) * SEGMENT_SIZE]! ^= 0xff;
  const proofs = Array.from({ length: count }, (_, k) => proofOf(first + k));
  return encodeSegmentBatch({ root: tree.rootHex, fileSize: bytes.length, first, proofs, data });
}

const postBatch = (url: string, seq: number, body: Uint8Array) =>
  fetch(`${url}/levity/v1/tx/${seq}/segments`, { method: 'POST', headers: { 'content-type': SEGMENT_BATCH_CONTENT_TYPE }, body });

/** A file's proofs as the helpers build them (the same the SDK sends). */
async function prepared(bytes: Buffer) {
  const { tree, segment } = await prepareFile(bytes);
  return { tree, proofOf: (index: number) => segment(index).proof };
}

describe('storage over Levity binary batches against a devnet', () => {
  let dir: string;
  let devnet: RunningDevnet;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-storage-binary-'));
    devnet = await startDevnet(join(dir, 'devnet'));
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const upload = (path: string, binary?: boolean) =>
    uploadFile({ path, indexer: devnet.manifest.storage!.indexer, rpc: devnet.manifest.chain.rpc, privateKey: devnet.manifest.chain.accounts[3]!.privateKey as Hex, binary, timeoutMs: 60_000 });

  for (const size of [1, 257, 256 * KiB + 1, 5 * MiB + 1, 17 * MiB + 3]) {
    it(`round-trips ${size} bytes through binary batches, byte-exact`, async () => {
      const bytes = randomBytes(size);
      const path = join(dir, `in-${size}`);
      await writeFile(path, bytes);
      const up = await upload(path);
      assert.equal(up.size, size);
      assert.equal(up.alreadyStored, false);
      const out = join(dir, `out-${size}`);
      const down = await downloadFile({ root: up.root, out, indexer: devnet.manifest.storage!.indexer });
      assert.equal(down.size, size);
      assert.ok((await readFile(out)).equals(bytes), 'downloaded bytes are identical');
    });
  }

  it('falls back to 0G JSON-RPC both ways when binary batches are off', async () => {
    const bytes = randomBytes(3 * MiB + 77);
    const path = join(dir, 'in-rpc');
    await writeFile(path, bytes);
    const up = await upload(path, false);
    const out = join(dir, 'out-rpc');
    await downloadFile({ root: up.root, out, indexer: devnet.manifest.storage!.indexer, binary: false });
    assert.ok((await readFile(out)).equals(bytes));
  });

  it('refuses bad batches with typed 4xx errors and stores nothing from them', async () => {
    const url = devnet.manifest.storage!.nodes[0]!;
    const bytes = randomBytes(3 * SEGMENT_SIZE + 5);
    const { tree, proofOf } = await prepared(bytes);
    await submitFile(devnet.manifest, tree, 4);
    const seq = await seqOnNode(url, tree.rootHex);
    const state = async () => (await rawRpc(url, 'zgs_getFileInfoByTxSeq', [seq])).body.result as FileState;

    const refused = async (response: Response, status: number, code: string, message?: RegExp) => {
      assert.equal(response.status, status, code);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(error.code, code);
      if (message) assert.match(error.message, message);
    };
    await refused(await postBatch(url, seq, Buffer.from('not a batch')), 400, 'STORAGE_BATCH_MALFORMED');
    await refused(await postBatch(url, seq, batchOf(bytes, tree, proofOf, 0, 4).subarray(0, 5000)), 400, 'STORAGE_BATCH_MALFORMED');
    await refused(await postBatch(url, seq, batchOf(bytes, tree, proofOf, 0, 4, 2)), 400, 'STORAGE_INVALID_PROOF', /validation failed/);
    await refused(await postBatch(url, 999_999, batchOf(bytes, tree, proofOf, 0, 1)), 404, 'STORAGE_TX_UNKNOWN', /no submission with tx seq 999999/);
    await refused(await postBatch(url, -1, batchOf(bytes, tree, proofOf, 0, 1)), 400, 'STORAGE_INVALID_PARAMS');
    await refused(await fetch(`${url}/levity/v1/tx/${seq}/segments?first=0&count=${MAX_BATCH_SEGMENTS + 1}`), 400, 'STORAGE_INVALID_PARAMS');
    await refused(await fetch(`${url}/levity/v1/tx/${seq}/segments?first=0&count=1`), 404, 'STORAGE_SEGMENT_MISSING');
    const untouched = await state();
    assert.deepEqual([untouched.uploadedSegNum, untouched.finalized], [0, false]);

    // The node still takes the real thing, and says when the file is complete.
    const stored = (await (await postBatch(url, seq, batchOf(bytes, tree, proofOf, 0, 4))).json()) as { stored: number; finalized: boolean };
    assert.deepEqual(stored, { stored: 4, uploadedSegNum: 4, finalized: true });
  });
});

describe('a storage node (joined by its manifest URL) killed with -9 in the middle of a binary upload', () => {
  let lone: LoneStorageNode;
  before(async () => {
    lone = await startLoneStorageNode('levity-storage-binary-crash-', { joinByUrl: true });
  });
  after(async () => {
    await lone?.stop();
  });

  it('loses no acknowledged batch, takes the rest after a restart and serves the file intact', async () => {
    const bytes = randomBytes(24 * MiB + 999);
    const { tree, proofOf } = await prepared(bytes);
    const total = segmentCount(bytes.length);
    const { devnet, dir } = lone;
    await submitFile(devnet.manifest, tree, 5);
    let url = lone.url();
    const seq = await seqOnNode(url, tree.rootHex);

    // Every two-segment batch at once; pull the plug at the first acknowledgement.
    const acknowledged = new Set<number>();
    const victim = lone.node();
    const batches = Array.from({ length: Math.ceil(total / 2) }, (_, b) => b * 2);
    await Promise.all(
      batches.map((first) =>
        postBatch(url, seq, batchOf(bytes, tree, proofOf, first, Math.min(2, total - first)))
          .then(async (response) => {
            if (!response.ok) return;
            for (let i = first; i < Math.min(first + 2, total); i++) acknowledged.add(i);
            victim.child.kill('SIGKILL');
            await response.body?.cancel();
          })
          .catch(() => undefined),
      ),
    );
    assert.ok(acknowledged.size > 0 && acknowledged.size < total, `the kill landed mid-upload (${acknowledged.size} of ${total})`);

    await lone.restart();
    url = lone.url();
    const info = (await rawRpc(url, 'zgs_getFileInfoByTxSeq', [seq])).body.result as FileState;
    assert.ok(info.uploadedSegNum >= acknowledged.size, `${info.uploadedSegNum} stored ≥ ${acknowledged.size} acknowledged`);
    for (const index of acknowledged) {
      const answer = await fetch(`${url}/levity/v1/tx/${seq}/segments?first=${index}&count=1`);
      assert.equal(answer.status, 200, `acknowledged segment ${index} is served after the crash`);
      await answer.body?.cancel();
    }

    // Finish through our client: it skips nothing the node refuses and ends finalized.
    const path = join(dir, 'in');
    await writeFile(path, bytes);
    const up = await uploadFile({ path, indexer: devnet.manifest.storage!.indexer, rpc: devnet.manifest.chain.rpc, privateKey: devnet.manifest.chain.accounts[5]!.privateKey as Hex, timeoutMs: 60_000 });
    assert.equal(up.root, tree.rootHex);
    const out = join(dir, 'out');
    await downloadFile({ root: tree.rootHex, out, indexer: devnet.manifest.storage!.indexer });
    assert.ok((await readFile(out)).equals(bytes), 'byte-exact after the crash');
  });
});
