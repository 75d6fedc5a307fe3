import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Indexer, ZgFile } from '@0glabs/0g-ts-sdk';
import { ethers } from 'ethers';
import { fileTree, loadKeccak } from '../../src/protocol/storage/index.ts';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { quietly } from './storage-helpers.ts';

type SdkSigner = Parameters<Indexer['upload']>[2];

/** The older SDK uses 0G's legacy submit(SubmissionData) ABI, which Flow keeps accepting. */
describe('storage with the legacy @0glabs/0g-ts-sdk 0.3.3', () => {
  let dir: string;
  let devnet: RunningDevnet;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-legacy-sdk-'));
    devnet = await startDevnet(join(dir, 'devnet'));
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const size of [1000, 768 * 1024 + 5]) {
    it(`round-trips ${size} bytes`, async () => {
      const { chain, storage } = devnet.manifest;
      const signer = new ethers.Wallet(chain.accounts[3]!.privateKey, new ethers.JsonRpcProvider(chain.rpc)) as unknown as SdkSigner;
      const indexer = new Indexer(storage!.indexer);
      const bytes = Buffer.alloc(size);
      for (let i = 0; i < size; i++) bytes[i] = i & 0xff;
      await writeFile(join(dir, `in-${size}`), bytes);
      const file = await ZgFile.fromFilePath(join(dir, `in-${size}`));
      const [uploaded, error] = await quietly(() => indexer.upload(file, chain.rpc, signer));
      await file.close();
      assert.equal(error, null);
      const { rootHash } = uploaded as { rootHash: string };
      assert.equal(rootHash, fileTree(await loadKeccak(), bytes).rootHex);
      const out = join(dir, `out-${size}`);
      assert.equal(await quietly(() => indexer.download(rootHash, out, true)), null);
      assert.ok(Buffer.compare(await readFile(out), bytes) === 0);
    });
  }
});
