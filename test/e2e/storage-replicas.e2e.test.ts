import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Indexer, ZgFile } from '@0gfoundation/0g-ts-sdk';
import { ethers } from 'ethers';
import { jsonRpcClient } from '../../src/storage/client.ts';
import { startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet, RunningNode } from './devnet-process.ts';
import { quietly } from './storage-helpers.ts';

type SdkSigner = Parameters<Indexer['upload']>[2];

describe('storage replication: two replicas, one node down', () => {
  let dir: string;
  let devnet: RunningDevnet;
  const nodes: RunningNode[] = [];
  const startStorageNode = (i: number) =>
    startNode(['--role', 'storage-node', '--devnet', join(dir, 'devnet'), '--data-dir', join(dir, `node-${i}`), '--port-base', '0', '--chain-key', devnet.manifest.chain.accounts[6 + i]!.privateKey]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-replicas-'));
    // The devnet runs the chain and the indexer; both storage nodes are separate processes,
    // found through NodeRegistry, so either can be stopped on its own.
    devnet = await startDevnet(join(dir, 'devnet'), [], 60_000, { LEVITY_STORAGE_NODES: '0' });
    nodes.push(await startStorageNode(0), await startStorageNode(1));
  });
  after(async () => {
    for (const node of nodes) await node.stop();
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads to both nodes and downloads byte-exact while either one is down', async () => {
    const { chain, storage } = devnet.manifest;
    assert.deepEqual(storage!.nodes, []);
    const signer = new ethers.Wallet(chain.accounts[2]!.privateKey, new ethers.JsonRpcProvider(chain.rpc)) as unknown as SdkSigner;
    const indexer = new Indexer(storage!.indexer);
    const bytes = randomBytes(700 * 1024);
    await writeFile(join(dir, 'in'), bytes);

    const file = await ZgFile.fromFilePath(join(dir, 'in'));
    const [uploaded, error] = await quietly(() => indexer.upload(file, chain.rpc, signer, { expectedReplica: 2 }));
    await file.close();
    assert.equal(error, null);
    const { rootHash } = uploaded as { rootHash: string };

    for (const node of nodes) {
      const info = await jsonRpcClient(node.endpoints[0]!.url).call<{ finalized: boolean }>('zgs_getFileInfo', [rootHash, true]);
      assert.equal(info.finalized, true, `${node.endpoints[0]!.url} holds the file`);
    }

    for (const down of [0, 1]) {
      await nodes[down]!.stop('SIGKILL');
      const out = join(dir, `out-${down}`);
      const downloadError = await quietly(() => indexer.download(rootHash, out, true));
      assert.equal(downloadError, null);
      assert.ok(Buffer.compare(await readFile(out), bytes) === 0, `byte-exact with node ${down} down`);
      nodes[down] = await startStorageNode(down); // back, with its data from disk
    }
  });
});
