import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Indexer, ZgFile } from '@0gfoundation/0g-ts-sdk';
import { ethers } from 'ethers';
import { createPublicClient, http } from 'viem';
import { fileTree, loadKeccak } from '../../src/protocol/storage/index.ts';
import { flowAbi } from '../../src/protocol/storage-flow-abi.ts';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { quietly } from './storage-helpers.ts';

type SdkSigner = Parameters<Indexer['upload']>[2];

const KiB = 1024;
const MiB = 1024 * KiB;
const SIZES = [1, 256, 257, 256 * KiB, 256 * KiB + 1, 5 * MiB + 1];

function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 8)) & 0xff;
  return bytes;
}

describe('storage with the real @0gfoundation/0g-ts-sdk', () => {
  let dir: string;
  let devnet: RunningDevnet;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-storage-sdk-'));
    devnet = await startDevnet(join(dir, 'devnet'));
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const size of SIZES) {
    it(`uploads and downloads ${size} bytes byte-exact, with the root on chain`, async () => {
      const { chain, storage } = devnet.manifest;
      // The SDK's typings name ethers' CommonJS build; at run time both builds are one API.
      const signer = new ethers.Wallet(chain.accounts[2]!.privateKey, new ethers.JsonRpcProvider(chain.rpc)) as unknown as SdkSigner;
      const indexer = new Indexer(storage!.indexer);
      const bytes = pattern(size);
      const input = join(dir, `in-${size}`);
      await writeFile(input, bytes);

      const file = await ZgFile.fromFilePath(input);
      const [uploaded, uploadError] = await quietly(() => indexer.upload(file, chain.rpc, signer));
      await file.close();
      assert.equal(uploadError, null);
      const { rootHash, txHash } = uploaded as { rootHash: string; txHash: string };

      const ours = fileTree(await loadKeccak(), bytes);
      assert.equal(rootHash, ours.rootHex, 'the SDK root equals ours');

      const client = createPublicClient({ transport: http(chain.rpc) });
      const receipt = await client.getTransactionReceipt({ hash: txHash as `0x${string}` });
      const [submit] = await client.getContractEvents({ abi: flowAbi, eventName: 'Submit', fromBlock: receipt.blockNumber, toBlock: receipt.blockNumber });
      assert.deepEqual(
        submit!.args.submission!.nodes.map((n) => [n.root, Number(n.height)]),
        ours.submission.nodes.map((n) => [n.root, n.height]),
        'the submission on chain carries our nodes, which fold to the root',
      );

      const output = join(dir, `out-${size}`);
      const downloadError = await quietly(() => indexer.download(rootHash, output, true));
      assert.equal(downloadError, null);
      assert.ok(Buffer.compare(await readFile(output), bytes) === 0, 'downloaded bytes are identical');
    });
  }
});
