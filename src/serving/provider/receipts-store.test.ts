import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Address, Hex } from 'viem';
import { ConflictError } from '../../protocol/errors.ts';
import { latestReceipt, openReceiptsStore } from './receipts-store.ts';

const alice: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const bob: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const provider: Address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const sig = (n: number) => `0x${n.toString(16).padStart(2, '0').repeat(65)}` as Hex;
const BIG = 2n ** 255n + 12345n;

describe('receipts store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'levity-receipts-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the latest receipt, spent and settled across reopen, exact beyond 2^63', () => {
    const path = join(dir, 'a.sqlite');
    let clock = 1_000;
    let store = openReceiptsStore({ path, now: () => clock++ });
    assert.deepEqual(store.billing(alice), { user: alice, lastNonce: undefined, receipt: undefined, spent: 0n, settled: 0n });
    store.acceptReceipt({ user: alice, nonce: 0n, cumulativeAmount: BIG, signature: sig(1) });
    assert.equal(store.recordUsage({ id: 'r1', user: alice, nonce: 0n, promptTokens: 3, completionTokens: 4, cost: 2n ** 64n }), 2n ** 64n);
    store.acceptReceipt({ user: alice, nonce: 5n, cumulativeAmount: BIG + 1n, signature: sig(2) });
    assert.equal(store.recordUsage({ id: 'r2', user: alice, nonce: 5n, promptTokens: 1, completionTokens: 0, cost: 7n }), 2n ** 64n + 7n);
    store.setSettled(alice, 2n ** 64n);
    store.close();

    store = openReceiptsStore({ path });
    const billing = store.billing(alice);
    assert.deepEqual(billing, {
      user: alice,
      lastNonce: 5n,
      receipt: { nonce: 5n, cumulativeAmount: BIG + 1n, signature: sig(2) },
      spent: 2n ** 64n + 7n,
      settled: 2n ** 64n,
    });
    assert.deepEqual(latestReceipt(billing, provider), {
      receipt: { user: alice, provider, cumulativeAmount: BIG + 1n, nonce: 5n },
      signature: sig(2),
    });
    assert.deepEqual(
      store.requests(alice).map((r) => [r.id, r.nonce, r.promptTokens, r.completionTokens, r.cost]),
      [
        ['r1', 0n, 3, 4, 2n ** 64n],
        ['r2', 5n, 1, 0, 7n],
      ],
    );
    assert.deepEqual(store.unsettled().map((b) => b.user), [alice]);
    assert.deepEqual(store.stats(), { users: 1, requests: 2 });
    store.close();
  });

  it('refuses a nonce that is not above the last, leaving the stored receipt alone', () => {
    const store = openReceiptsStore({ path: join(dir, 'b.sqlite') });
    store.acceptReceipt({ user: bob, nonce: 10n, cumulativeAmount: 100n, signature: sig(3) });
    for (const nonce of [10n, 9n, 0n]) {
      assert.throws(
        () => store.acceptReceipt({ user: bob, nonce, cumulativeAmount: 1_000n, signature: sig(4) }),
        (err: unknown) => err instanceof ConflictError && err.code === 'SERVING_NONCE_REPLAYED',
      );
    }
    assert.deepEqual(store.billing(bob).receipt, { nonce: 10n, cumulativeAmount: 100n, signature: sig(3) });
    store.close();
  });

  it('commits a request as one: its receipt unless a newer one is stored, and its usage when served', async () => {
    const store = openReceiptsStore({ path: join(dir, 'd.sqlite') });
    assert.equal(store.recordRequest({ user: alice, nonce: 3n, cumulativeAmount: 100n, signature: sig(6) }), 0n);
    assert.deepEqual(store.billing(alice).receipt, { nonce: 3n, cumulativeAmount: 100n, signature: sig(6) });
    const usage = (id: string, cost: bigint) => ({ id, promptTokens: 1, completionTokens: 2, cost });
    assert.equal(store.recordRequest({ user: alice, nonce: 5n, cumulativeAmount: 300n, signature: sig(7) }, usage('d5', 40n)), 40n);
    // Nonce 4 finished after 5: charged, but 5 stays the latest authorisation.
    assert.equal(store.recordRequest({ user: alice, nonce: 4n, cumulativeAmount: 200n, signature: sig(8) }, usage('d4', 30n)), 70n);
    await store.sync();
    // A failed commit (a duplicate id) changes nothing, in the file or in memory.
    assert.throws(() => store.recordRequest({ user: alice, nonce: 9n, cumulativeAmount: 900n, signature: sig(9) }, usage('d4', 1n)));
    const expected = { user: alice, lastNonce: 5n, receipt: { nonce: 5n, cumulativeAmount: 300n, signature: sig(7) }, spent: 70n, settled: 0n };
    assert.deepEqual(store.billing(alice), expected);
    assert.deepEqual(store.requests(alice).map((r) => [r.id, r.nonce, r.cost]), [['d5', 5n, 40n], ['d4', 4n, 30n]]);
    store.close();
    const reopened = openReceiptsStore({ path: join(dir, 'd.sqlite') });
    assert.deepEqual(reopened.billing(alice), expected);
    reopened.close();
  });

  it('never lowers settled, and lists only users with something left to settle', () => {
    const store = openReceiptsStore({ path: join(dir, 'c.sqlite') });
    store.acceptReceipt({ user: alice, nonce: 1n, cumulativeAmount: 100n, signature: sig(5) });
    store.recordUsage({ id: 'c1', user: alice, nonce: 1n, promptTokens: 1, completionTokens: 1, cost: 50n });
    store.setSettled(alice, 40n);
    store.setSettled(alice, 30n);
    assert.equal(store.billing(alice).settled, 40n);
    assert.equal(store.unsettled().length, 1);
    store.setSettled(alice, 50n);
    assert.deepEqual(store.unsettled(), []);
    // A duplicate request id is refused whole: spent does not move either.
    assert.throws(() => store.recordUsage({ id: 'c1', user: alice, nonce: 1n, promptTokens: 1, completionTokens: 1, cost: 5n }));
    assert.equal(store.billing(alice).spent, 50n);
    store.close();
  });
});
