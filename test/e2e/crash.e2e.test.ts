import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, createWalletClient, http } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { levityChain } from '../../src/chain/index.ts';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';

describe('the embedded chain survives kill -9', () => {
  let dir: string;
  let devnet: RunningDevnet | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-crash-'));
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps every acknowledged transaction when killed in the middle of a stream of them', async () => {
    devnet = await startDevnet(dir);
    const chain = levityChain(31337, devnet.manifest.chain.rpc);
    const account = privateKeyToAccount(devnet.manifest.chain.accounts[5]!.privateKey as Hex);
    const wallet = createWalletClient({ chain, account, transport: http(undefined, { retryCount: 0 }) });
    const acknowledged: Hex[] = [];
    const nonceStart = await createPublicClient({ chain, transport: http() }).getTransactionCount({ address: account.address });

    // Send as fast as possible and pull the plug while transactions are in flight.
    const sending = (async () => {
      for (let i = 0; i < 10_000; i++) {
        try {
          acknowledged.push(await wallet.sendTransaction({ to: account.address, value: 1n, nonce: nonceStart + i, gas: 21_000n }));
        } catch {
          return;
        }
      }
    })();
    while (acknowledged.length < 40) await new Promise((r) => setTimeout(r, 10));
    devnet.child.kill('SIGKILL');
    await sending;
    await devnet.stop();

    devnet = await startDevnet(dir);
    const client = createPublicClient({ chain, transport: http(devnet.manifest.chain.rpc) });
    for (const hash of acknowledged) {
      const receipt = await client.getTransactionReceipt({ hash });
      assert.equal(receipt.status, 'success');
    }
    const nonce = await client.getTransactionCount({ address: account.address });
    assert.ok(nonce >= nonceStart + acknowledged.length, `nonce ${nonce} covers all ${acknowledged.length} acknowledged txs`);
  });
});
