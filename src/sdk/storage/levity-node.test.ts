import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { getSegmentBatch, isLevityNode, postSegmentBatch } from './levity-node.ts';

const servers: Server[] = [];

async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

describe('Levity node transport', () => {
  after(() => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
  });

  it('tells a Levity node from one that only speaks JSON-RPC', async () => {
    const levity = await serve((_req, res) => json(res, 200, { protocol: 'levity-storage', version: 1 }));
    const zeroG = await serve((_req, res) => json(res, 405, { error: 'method not allowed' }));
    const future = await serve((_req, res) => json(res, 200, { protocol: 'levity-storage', version: 2 }));
    const html = await serve((_req, res) => res.end('<html>hello</html>'));
    assert.equal(await isLevityNode(levity, 1_000), true);
    assert.equal(await isLevityNode(zeroG, 1_000), false);
    assert.equal(await isLevityNode(future, 1_000), false);
    assert.equal(await isLevityNode(html, 1_000), false);
    assert.equal(await isLevityNode('http://127.0.0.1:1', 1_000), false);
  });

  it('reports a refused batch with the node’s status and code, and an unreachable node as such', async () => {
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => json(res, 409, { error: { code: 'STORAGE_INVALID_PARAMS', message: 'already uploaded and finalized' } }));
    });
    await assert.rejects(postSegmentBatch(url, 3, new Uint8Array(10), 1_000), (error: Error & { code?: string; meta?: Record<string, unknown> }) => {
      assert.equal(error.code, 'STORAGE_NODE_REFUSED');
      assert.equal(error.meta?.status, 409);
      assert.equal(error.meta?.nodeCode, 'STORAGE_INVALID_PARAMS');
      assert.match(error.message, /already uploaded and finalized/);
      return true;
    });
    await assert.rejects(postSegmentBatch('http://127.0.0.1:1', 3, new Uint8Array(10), 1_000), { code: 'STORAGE_NODE_UNREACHABLE' });
  });

  it('reads chunked batches through node:http, and refuses ones bigger than asked for', async () => {
    const url = await serve((req, res) => {
      if (req.url?.includes('first=0')) {
        res.writeHead(200); // no content-length: chunked
        res.end(Buffer.alloc(1000, 7));
      } else json(res, 200, { padding: 'x'.repeat(300_000) });
    });
    const small = await getSegmentBatch(url, 1, 0, 1, 1_000, (length) => new Uint8Array(length));
    assert.equal(small.length, 1000);
    await assert.rejects(getSegmentBatch(url, 1, 5, 1, 1_000, (length) => new Uint8Array(length)), /larger than expected/);
  });
});
