import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseEther } from 'viem';
import { startTestEvm } from '../chain/test-evm.ts';
import type { TestEvm } from '../chain/test-evm.ts';
import { withSerialSends } from './serial-sends.ts';

describe('withSerialSends', () => {
  let evm: TestEvm;
  before(async () => {
    evm = await startTestEvm();
  });
  after(() => evm?.close());

  it('sends many transactions from one key at once, through several wallets, without a nonce race', async () => {
    const account = evm.accounts[2]!;
    const wallets = [withSerialSends(evm.wallet(account)), withSerialSends(evm.wallet(account))];
    const start = await evm.publicClient.getTransactionCount({ address: account.address });
    const hashes = await Promise.all(
      Array.from({ length: 12 }, (_, i) => wallets[i % 2]!.sendTransaction({ to: evm.accounts[3]!.address, value: 1n })),
    );
    const receipts = await Promise.all(hashes.map((hash) => evm.publicClient.waitForTransactionReceipt({ hash })));
    assert.ok(receipts.every((receipt) => receipt.status === 'success'));
    assert.equal(await evm.publicClient.getTransactionCount({ address: account.address }), start + 12);
  });

  it('a send that fails before reaching the node strands none of those queued behind it', async () => {
    const wallet = withSerialSends(evm.wallet(evm.accounts[4]!));
    const tooMuch = wallet.sendTransaction({ to: evm.accounts[3]!.address, value: parseEther('1000000000') });
    const fine = wallet.sendTransaction({ to: evm.accounts[3]!.address, value: 1n });
    await assert.rejects(tooMuch);
    const receipt = await evm.publicClient.waitForTransactionReceipt({ hash: await fine });
    assert.equal(receipt.status, 'success');
  });
});
