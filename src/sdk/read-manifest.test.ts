import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MANIFEST_FILE } from '../protocol/manifest.ts';
import type { Manifest } from '../protocol/manifest.ts';
import { readManifest } from './read-manifest.ts';

const manifest: Manifest = {
  version: 1,
  dataDir: '/srv/levity',
  chain: {
    rpc: 'http://10.0.0.2:8545/',
    chainId: 31337,
    accounts: [],
    contracts: { Flow: '0x5FbDB2315678afecb367f032d93F642f64180aa3' },
  },
};

describe('readManifest', () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-manifest-'));
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(manifest));
    await writeFile(join(dir, 'broken.json'), '{"version": 1');
    server = createServer((request, response) => {
      if (request.url === '/manifest.json') response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(manifest));
      else if (request.url === '/wrong.json') response.writeHead(200).end(JSON.stringify({ ...manifest, version: 2 }));
      else if (request.url === '/down') response.writeHead(503).end('maintenance');
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a devnet by its data dir or by its manifest file', async () => {
    assert.deepEqual(await readManifest({ devnet: dir }), manifest);
    assert.deepEqual(await readManifest({ devnet: join(dir, MANIFEST_FILE) }), manifest);
  });

  it("reads another host's devnet by the URL that serves its manifest", async () => {
    assert.deepEqual(await readManifest({ devnet: `${base}/manifest.json` }), manifest);
  });

  it('names what is wrong: nothing there, not JSON, the wrong shape, a failing server, no server', async () => {
    await assert.rejects(readManifest({ devnet: join(dir, 'nowhere') }), { code: 'DEVNET_NOT_FOUND' });
    await assert.rejects(readManifest({ devnet: join(dir, 'broken.json') }), { code: 'DEVNET_MANIFEST_INVALID', message: /not valid JSON/ });
    await assert.rejects(readManifest({ devnet: `${base}/gone.json` }), { code: 'DEVNET_NOT_FOUND' });
    await assert.rejects(readManifest({ devnet: `${base}/wrong.json` }), { code: 'DEVNET_MANIFEST_INVALID', message: /version/ });
    await assert.rejects(readManifest({ devnet: `${base}/down` }), { code: 'DEVNET_UNREACHABLE', message: /HTTP 503/ });
    await assert.rejects(readManifest({ devnet: 'http://127.0.0.1:9/manifest.json' }), { code: 'DEVNET_UNREACHABLE' });
  });
});
