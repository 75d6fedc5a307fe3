import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileTree, loadKeccak, segmentDataLength, segmentProver, SEGMENT_SIZE } from '../../protocol/storage/index.ts';
import type { Hex } from '../../protocol/storage/index.ts';
import { downloadFile } from './download-file.ts';
import { StorageClientErrorCode } from './node-rpc.ts';

type Behaviour = 'honest' | 'tamper' | 'null';

/**
 * A fake indexer and storage nodes on real sockets, serving one file with real proofs. A node
 * told to tamper flips one byte of the segment it serves; no honest node would, which is why
 * this cannot be an end-to-end test against the devnet.
 */
async function fakeNetwork(file: Uint8Array, behaviours: Behaviour[]) {
  const keccak = await loadKeccak();
  const tree = fileTree(keccak, file);
  const prove = segmentProver(keccak, tree.segmentRoots);
  const servers: Server[] = [];
  const listen = async (handle: (method: string, params: unknown[]) => unknown): Promise<string> => {
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk));
      req.on('end', () => {
        const { id, method, params } = JSON.parse(body) as { id: number; method: string; params?: unknown[] };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: handle(method, params ?? []) ?? null }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const info = { tx: { dataMerkleRoot: tree.rootHex, startEntryIndex: 0, size: file.length, seq: 7 }, finalized: true, isCached: false, uploadedSegNum: 1, pruned: false };
  const nodes = await Promise.all(
    behaviours.map((behaviour) =>
      listen((method, params) => {
        if (method === 'zgs_getFileInfo') return info;
        if (method !== 'zgs_downloadSegmentWithProofByTxSeq' || behaviour === 'null') return null;
        const index = params[1] as number;
        const data = Buffer.alloc(segmentDataLength(file.length, index));
        data.set(file.subarray(index * SEGMENT_SIZE, Math.min(file.length, (index + 1) * SEGMENT_SIZE)));
        if (behaviour === 'tamper') data[0]! ^= 1;
        return { root: tree.rootHex, data: data.toString('base64'), index, proof: prove(index), fileSize: file.length };
      }),
    ),
  );
  const indexer = await listen((method) =>
    method === 'indexer_getFileLocations' ? nodes.map((url) => ({ url, config: { shardId: 0, numShard: 1 }, latency: 1, since: 0 })) : null,
  );
  return {
    root: tree.rootHex,
    indexer,
    close: () => Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve)))),
  };
}

const exists = (path: string) => access(path).then(() => true, () => false);

for (const verifyThreads of [0, 2]) describe(`downloadFile verification, ${verifyThreads} worker threads`, () => {
  let dir: string;
  const file = randomBytes(3 * SEGMENT_SIZE + 1000);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-download-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes the file when every segment proves itself', async () => {
    const net = await fakeNetwork(file, ['honest']);
    try {
      const out = join(dir, `honest-${verifyThreads}`);
      const result = await downloadFile({ root: net.root, out, indexer: net.indexer, verifyThreads });
      assert.equal(result.size, file.length);
      assert.equal(result.txSeq, 7);
      assert.ok((await readFile(out)).equals(file));
      assert.equal(await exists(`${out}.partial`), false);
    } finally {
      await net.close();
    }
  });

  it('refuses a tampered segment and leaves nothing behind', async () => {
    const net = await fakeNetwork(file, ['tamper']);
    try {
      const out = join(dir, `tampered-${verifyThreads}`);
      await assert.rejects(downloadFile({ root: net.root, out, indexer: net.indexer, verifyThreads }), (error: Error & { code?: string }) => {
        assert.equal(error.code, StorageClientErrorCode.downloadInvalid);
        assert.match(error.message, /failed verification/);
        return true;
      });
      assert.equal(await exists(out), false);
      assert.equal(await exists(`${out}.partial`), false);
    } finally {
      await net.close();
    }
  });

  it('falls back to the next node when one lies or lacks the segment', async () => {
    const net = await fakeNetwork(file, ['tamper', 'null', 'honest']);
    try {
      const out = join(dir, `fallback-${verifyThreads}`);
      const result = await downloadFile({ root: net.root, out, indexer: net.indexer, concurrency: 3, verifyThreads });
      assert.equal(result.nodes.length, 3);
      assert.ok((await readFile(out)).equals(file));
    } finally {
      await net.close();
    }
  });

  it('rejects a root the node did not ask for: proofs bind bytes to the requested root', async () => {
    const net = await fakeNetwork(file, ['honest']);
    try {
      const other = `0x${'ab'.repeat(32)}` as Hex;
      // The fake node answers for any root, as a confused node might.
      await assert.rejects(downloadFile({ root: other, out: join(dir, 'other'), indexer: net.indexer, verifyThreads }), /failed verification/);
    } finally {
      await net.close();
    }
  });

  it('refuses to overwrite an existing file before asking the network', async () => {
    const out = join(dir, `existing-${verifyThreads}`);
    await writeFile(out, 'keep me');
    await assert.rejects(downloadFile({ root: `0x${'00'.repeat(32)}`, out, indexer: 'http://127.0.0.1:1' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, StorageClientErrorCode.outputExists);
      return true;
    });
    assert.equal(await readFile(out, 'utf8'), 'keep me');
  });
});
