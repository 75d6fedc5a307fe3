import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeSegmentBatch, fileTree, loadKeccak, segmentDataLength, segmentProver, SEGMENT_BATCH_CONTENT_TYPE, SEGMENT_SIZE } from '../../protocol/storage/index.ts';
import type { Hex } from '../../protocol/storage/index.ts';
import { downloadFile } from './download-file.ts';
import { StorageClientErrorCode } from './node-rpc.ts';

type Behaviour = 'honest' | 'tamper' | 'null';
/** What the fake nodes speak: 0G's JSON-RPC only, or also Levity's binary batch routes. */
type Transport = 'json-rpc' | 'binary';

/**
 * A fake indexer and storage nodes on real sockets, serving one file with real proofs. A node
 * told to tamper flips one byte of the segment it serves; no honest node would, which is why
 * this cannot be an end-to-end test against the devnet. JSON-RPC-only nodes answer Levity's
 * routes with 404, as 0G's node does, so the client must fall back to JSON-RPC.
 */
async function fakeNetwork(file: Uint8Array, behaviours: Behaviour[], transport: Transport = 'json-rpc') {
  const keccak = await loadKeccak();
  const tree = fileTree(keccak, file);
  const prove = segmentProver(keccak, tree.segmentRoots);
  const servers: Server[] = [];
  const segmentBytes = (index: number, behaviour: Behaviour) => {
    const data = Buffer.alloc(segmentDataLength(file.length, index));
    data.set(file.subarray(index * SEGMENT_SIZE, Math.min(file.length, (index + 1) * SEGMENT_SIZE)));
    if (behaviour === 'tamper') data[0]! ^= 1;
    return data;
  };
  /** Levity's GET routes, for a binary node; undefined means 404. */
  const binary = (url: URL, behaviour: Behaviour): { type: string; body: Uint8Array } | undefined => {
    if (url.pathname === '/levity/v1/info') return { type: 'application/json', body: Buffer.from(JSON.stringify({ protocol: 'levity-storage', version: 1 })) };
    if (url.pathname !== '/levity/v1/tx/7/segments' || behaviour === 'null') return undefined;
    const first = Number(url.searchParams.get('first'));
    const count = Number(url.searchParams.get('count'));
    const data = Buffer.concat(Array.from({ length: count }, (_, k) => segmentBytes(first + k, behaviour)));
    const proofs = Array.from({ length: count }, (_, k) => prove(first + k));
    return { type: SEGMENT_BATCH_CONTENT_TYPE, body: encodeSegmentBatch({ root: tree.rootHex, fileSize: file.length, first, proofs, data }) };
  };
  const listen = async (handle: (method: string, params: unknown[]) => unknown, behaviour?: Behaviour): Promise<string> => {
    const server = createServer((req, res) => {
      if (req.method === 'GET') {
        const answer = transport === 'binary' && behaviour ? binary(new URL(req.url!, 'http://fake'), behaviour) : undefined;
        // Batches go out with a content-length, as a Levity node sends them; errors chunked.
        if (answer) res.writeHead(200, { 'content-type': answer.type, 'content-length': answer.body.length });
        else res.writeHead(404, { 'content-type': 'application/json' });
        res.end(answer?.body ?? JSON.stringify({ error: { code: 'HTTP_NOT_FOUND', message: 'no such route' } }));
        return;
      }
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
        return { root: tree.rootHex, data: segmentBytes(index, behaviour).toString('base64'), index, proof: prove(index), fileSize: file.length };
      }, behaviour),
    ),
  );
  const indexer = await listen((method) =>
    method === 'indexer_getFileLocations' ? nodes.map((url) => ({ url, config: { shardId: 0, numShard: 1 }, latency: 1, since: 0 })) : null,
  );
  return {
    root: tree.rootHex,
    indexer,
    close: () =>
      Promise.all(
        servers.map((server) => {
          const closed = new Promise((resolve) => server.close(resolve));
          server.closeAllConnections(); // kept-alive client connections would hold close() open
          return closed;
        }),
      ),
  };
}

const exists = (path: string) => access(path).then(() => true, () => false);

for (const transport of ['json-rpc', 'binary'] as const) for (const verifyThreads of [0, 2]) describe(`downloadFile verification over ${transport}, ${verifyThreads} worker threads`, () => {
  let dir: string;
  const file = randomBytes(3 * SEGMENT_SIZE + 1000);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-download-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes the file when every segment proves itself', async () => {
    const net = await fakeNetwork(file, ['honest'], transport);
    try {
      const out = join(dir, `honest-${transport}-${verifyThreads}`);
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
    const net = await fakeNetwork(file, ['tamper'], transport);
    try {
      const out = join(dir, `tampered-${transport}-${verifyThreads}`);
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
    const net = await fakeNetwork(file, ['tamper', 'null', 'honest'], transport);
    try {
      const out = join(dir, `fallback-${transport}-${verifyThreads}`);
      const result = await downloadFile({ root: net.root, out, indexer: net.indexer, concurrency: 3, verifyThreads });
      assert.equal(result.nodes.length, 3);
      assert.ok((await readFile(out)).equals(file));
    } finally {
      await net.close();
    }
  });

  it('rejects a root the node did not ask for: proofs bind bytes to the requested root', async () => {
    const net = await fakeNetwork(file, ['honest'], transport);
    try {
      const other = `0x${'ab'.repeat(32)}` as Hex;
      // The fake node answers for any root, as a confused node might.
      await assert.rejects(downloadFile({ root: other, out: join(dir, `other-${transport}-${verifyThreads}`), indexer: net.indexer, verifyThreads }), /failed verification/);
    } finally {
      await net.close();
    }
  });

  it('refuses to overwrite an existing file before asking the network', async () => {
    const out = join(dir, `existing-${transport}-${verifyThreads}`);
    await writeFile(out, 'keep me');
    await assert.rejects(downloadFile({ root: `0x${'00'.repeat(32)}`, out, indexer: 'http://127.0.0.1:1' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, StorageClientErrorCode.outputExists);
      return true;
    });
    assert.equal(await readFile(out, 'utf8'), 'keep me');
  });
});
