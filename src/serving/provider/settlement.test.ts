import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { LocalAccount } from 'viem';
import { startTestEvm } from '../../chain/test-evm.ts';
import { signReceipt } from '../../protocol/serving/receipt.ts';
import { openReceiptsStore } from './receipts-store.ts';
import type { ReceiptsStore } from './receipts-store.ts';
import { createSettlement } from './settlement.ts';
import { startServingFixture } from './testing.ts';
import type { ServingFixture } from './testing.ts';

describe('settlement', () => {
  let fx: ServingFixture;
  let provider: LocalAccount;
  let store: ReceiptsStore;
  let users: LocalAccount[];
  let requestId = 0;

  before(async () => {
    fx = await startServingFixture(await startTestEvm());
    provider = fx.evm.accounts[9]!;
    users = fx.evm.accounts.slice(1, 6);
    store = openReceiptsStore({ path: join(fx.dir, 'settlement.sqlite') });
  });
  after(async () => {
    store?.close();
    await fx?.close();
  });

  const settlement = (intervalMs = 0) =>
    createSettlement({ store, client: fx.evm.publicClient, wallet: fx.evm.wallet(provider), ledger: fx.ledger, log: fx.log, intervalMs });
  /** What the provider would have stored after serving: the user's receipt, then the usage. */
  async function served(user: LocalAccount, nonce: bigint, cumulativeAmount: bigint, cost: bigint, signer = user): Promise<void> {
    const signature = await signReceipt(signer, fx.domain, { user: user.address, provider: provider.address, cumulativeAmount, nonce });
    store.acceptReceipt({ user: user.address, nonce, cumulativeAmount, signature });
    store.recordUsage({ id: `r${requestId++}`, user: user.address, nonce, promptTokens: 1, completionTokens: 1, cost });
  }
  const fund = async (user: LocalAccount, amount: bigint) => {
    await fx.ledgerTx(user, 'deposit', [], amount);
    await fx.ledgerTx(user, 'fund', [provider.address, amount]);
  };
  const only = <T>(list: T[], pick: (t: T) => boolean): T => {
    const found = list.filter(pick);
    assert.equal(found.length, 1);
    return found[0]!;
  };

  it('sends nothing for an empty sub-account, collects what is held, and the rest once funded', async () => {
    const user = users[0]!;
    await served(user, 1n, 1_000n, 700n);
    const s = settlement();
    let result = only(await s.settleAll(), (r) => r.user === user.address);
    assert.deepEqual([result.outcome, result.paid, result.tx], ['unfunded', 0n, undefined]);

    await fund(user, 500n);
    result = only(await s.settleAll(), (r) => r.user === user.address);
    assert.deepEqual([result.outcome, result.paid, result.settled], ['settled', 500n, 500n]);
    assert.equal(store.billing(user.address).settled, 500n);

    // The same receipt again (its nonce equals the ledger's last): the part still due is paid.
    await fund(user, 1_000n);
    result = only(await s.settleAll(), (r) => r.user === user.address);
    assert.deepEqual([result.outcome, result.paid, result.settled], ['settled', 200n, 700n]);
    const sub = await fx.subAccount(user.address, provider.address);
    assert.deepEqual([sub.balance, sub.settled, sub.lastNonce], [800n, 700n, 1n]);
  });

  it('is paid from a pending refund, within the lock time', async () => {
    const user = users[1]!;
    await fund(user, 1_000n);
    await served(user, 4n, 900n, 600n);
    await fx.ledgerTx(user, 'requestRefund', [provider.address, 1_000n]);
    const result = only(await settlement().settleAll(), (r) => r.user === user.address);
    assert.deepEqual([result.outcome, result.paid], ['settled', 600n]);
    const sub = await fx.subAccount(user.address, provider.address);
    assert.deepEqual([sub.balance, sub.pendingRefund, sub.settled], [0n, 400n, 600n]);
  });

  it('only re-syncs when its record of a settlement was lost', async () => {
    const user = users[2]!;
    await fund(user, 1_000n);
    await served(user, 0n, 1_000n, 300n);
    const s = settlement();
    assert.equal(only(await s.settleAll(), (r) => r.user === user.address).paid, 300n);
    // What a restored backup (or a crash between transaction and write) would look like: the
    // store thinks nothing was settled, and spent is the same.
    const fresh = openReceiptsStore({ path: join(fx.dir, 'lost.sqlite') });
    const billing = store.billing(user.address);
    fresh.acceptReceipt({ user: user.address, ...billing.receipt! });
    fresh.recordUsage({ id: 'again', user: user.address, nonce: 0n, promptTokens: 1, completionTokens: 1, cost: 300n });
    const other = createSettlement({ store: fresh, client: fx.evm.publicClient, wallet: fx.evm.wallet(provider), ledger: fx.ledger, log: fx.log, intervalMs: 0 });
    const result = only(await other.settleAll(), (r) => r.user === user.address);
    assert.deepEqual([result.outcome, result.paid, result.tx], ['synced', 0n, undefined]);
    assert.equal(fresh.billing(user.address).settled, 300n);
    assert.equal((await fx.subAccount(user.address, provider.address)).settled, 300n);
    fresh.close();
  });

  it('reports a refused settlement as a typed failure and keeps going', async () => {
    const user = users[3]!;
    await fund(user, 1_000n);
    // A receipt someone else signed: the ledger refuses it (the gate never stores one; this is a corrupted store).
    await served(user, 0n, 1_000n, 100n, users[4]!);
    const result = only(await settlement().settleAll(), (r) => r.user === user.address);
    assert.equal(result.outcome, 'failed');
    assert.equal(result.error?.code, 'SERVING_SETTLE_REJECTED');
    assert.equal(result.error?.meta.revert, 'BadSignature');
    assert.equal((await fx.subAccount(user.address, provider.address)).settled, 0n);
  });

  it('settles on its timer and once more at stop', async () => {
    const user = users[4]!;
    await fund(user, 10_000n);
    await served(user, 0n, 10_000n, 1_000n);
    const s = settlement(50);
    await s.start();
    const deadline = Date.now() + 10_000;
    while ((await fx.subAccount(user.address, provider.address)).settled !== 1_000n) {
      assert.ok(Date.now() < deadline, 'the timer settled');
      await sleep(25);
    }
    await served(user, 1n, 10_000n, 2_000n);
    await s.stop();
    assert.equal((await fx.subAccount(user.address, provider.address)).settled, 3_000n);
  });
});
