import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LocalAccount } from 'viem';
import { startTestEvm } from '../../chain/test-evm.ts';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';
import { loadKeccak } from '../../protocol/storage/keccak.ts';
import { createBillingGate } from './billing-gate.ts';
import type { BillingGate, Reservation, Usage } from './billing-gate.ts';
import { nativeEcdsa } from './native-ecdsa.ts';
import { openReceiptsStore } from './receipts-store.ts';
import type { ReceiptsStore } from './receipts-store.ts';
import { receiptSigner, startServingFixture } from './testing.ts';
import type { ServingFixture } from './testing.ts';

const prices = { inputPricePerToken: 10n, outputPricePerToken: 100n };

describe('billing gate', () => {
  let fx: ServingFixture;
  let provider: LocalAccount;
  let user: LocalAccount;
  let store: ReceiptsStore;
  let gate: BillingGate;

  before(async () => {
    fx = await startServingFixture(await startTestEvm());
    provider = fx.evm.accounts[9]!;
    user = fx.evm.accounts[1]!;
    store = openReceiptsStore({ path: join(fx.dir, 'gate.sqlite') });
    gate = createBillingGate({ store, client: fx.evm.publicClient, domain: fx.domain, provider: provider.address, prices, chainCacheMs: 60_000 });
    await fx.ledgerTx(user, 'deposit', [], 1_000_000n);
    await fx.ledgerTx(user, 'fund', [provider.address, 10_000n]);
  });
  after(async () => {
    store?.close();
    await fx?.close();
  });

  /** Charges and waits until the charge is durable, as a response does before it completes. */
  const charged = async (reservation: Reservation, usage: Usage) => {
    const { cost, spentAfter, durable } = reservation.charge(usage);
    await durable;
    return { cost, spentAfter };
  };
  const code = (expected: string) => (err: unknown) => {
    assert.ok(err instanceof LevityError, String(err));
    assert.equal(err.code, expected);
    return true;
  };

  it('counts requests in flight against the cap, so spent never overtakes the latest receipt', async () => {
    const signer = receiptSigner(user, provider.address, fx.domain);
    // A: worst case 1,000, covered exactly.
    const a = await gate.reserve(await gate.authorise(await signer.headers(1_000n)), 1_000n);
    assert.equal(gate.snapshot(user.address).reserved, 1_000n);
    // B signs for its own worst case on top of spent, forgetting A in flight: refused, naming the cap it needs.
    const bClaim = await gate.authorise(await signer.headers(1_000n));
    await assert.rejects(gate.reserve(bClaim, 1_000n), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError && err.code === 'SERVING_FEE_CAP_EXCEEDED');
      assert.equal(err.meta.required, '2000');
      assert.equal(err.meta.inFlight, '1000');
      return true;
    });
    // With the cap it named, B is served alongside A.
    signer.reuse(bClaim.nonce);
    const b = await gate.reserve(await gate.authorise(await signer.headers(2_000n)), 1_000n);
    // A costs less than its worst case; B's charge is capped at its worst case.
    assert.deepEqual(await charged(a, { id: 'a', promptTokens: 10, completionTokens: 5 }), { cost: 600n, spentAfter: 600n });
    assert.deepEqual(await charged(b, { id: 'b', promptTokens: 100, completionTokens: 100 }), { cost: 1_000n, spentAfter: 1_600n });
    assert.throws(() => b.charge({ id: 'b2', promptTokens: 1, completionTokens: 1 }), code('SERVING_ALREADY_CHARGED'));
    const snapshot = gate.snapshot(user.address);
    assert.deepEqual([snapshot.spent, snapshot.reserved, snapshot.receipt?.cumulativeAmount], [1_600n, 0n, 2_000n]);
    assert.ok(snapshot.spent <= snapshot.receipt!.cumulativeAmount);
  });

  it('releases an unserved request without charging, and refuses a stale nonce even after its checks', async () => {
    const signer = receiptSigner(user, provider.address, fx.domain);
    signer.reuse(gate.snapshot(user.address).lastNonce! + 1n);
    const before = gate.snapshot(user.address);
    const claim = await gate.authorise(await signer.headers(before.spent + 500n));
    const held = await gate.reserve(claim, 500n);
    held.release();
    held.release();
    const after = gate.snapshot(user.address);
    assert.deepEqual([after.spent, after.reserved, after.lastNonce], [before.spent, 0n, claim.nonce]);
    // Its receipt is kept: the nonce is used up.
    await assert.rejects(gate.reserve(claim, 1n), code('SERVING_NONCE_REPLAYED'));
    await assert.rejects(gate.authorise(await signer.headers(before.spent + 500n, { nonce: claim.nonce })), code('SERVING_NONCE_REPLAYED'));
  });

  it('takes a nonce in memory, and commits receipt and usage once, when charged, in any finishing order', async () => {
    const signer = receiptSigner(user, provider.address, fx.domain);
    signer.reuse(gate.snapshot(user.address).lastNonce! + 1n);
    const durable = store.billing(user.address);
    const a = await gate.reserve(await gate.authorise(await signer.headers(durable.spent + 100n)), 100n);
    const bHeaders = await signer.headers(durable.spent + 200n);
    const b = await gate.reserve(await gate.authorise(bHeaders), 100n);
    // Nothing is written while they run, yet both nonces are taken: the same receipt is refused.
    assert.deepEqual(store.billing(user.address), durable);
    assert.equal(gate.snapshot(user.address).lastNonce, b.claim.nonce);
    await assert.rejects(gate.authorise(bHeaders), code('SERVING_NONCE_REPLAYED'));
    await assert.rejects(gate.authorise(await signer.headers(durable.spent + 300n, { nonce: a.claim.nonce })), code('SERVING_NONCE_REPLAYED'));
    // B finishes first: its receipt is stored; A's older one, finishing after, never replaces it.
    assert.deepEqual(await charged(b, { id: 'order-b', promptTokens: 1, completionTokens: 0 }), { cost: 10n, spentAfter: durable.spent + 10n });
    assert.deepEqual(store.billing(user.address).receipt?.nonce, b.claim.nonce);
    assert.deepEqual(await charged(a, { id: 'order-a', promptTokens: 2, completionTokens: 0 }), { cost: 20n, spentAfter: durable.spent + 30n });
    const after = store.billing(user.address);
    assert.deepEqual([after.spent, after.lastNonce, after.receipt?.cumulativeAmount], [durable.spent + 30n, b.claim.nonce, durable.spent + 200n]);
    assert.deepEqual(store.requests(user.address).slice(-2).map((r) => [r.id, r.nonce]), [['order-b', b.claim.nonce], ['order-a', a.claim.nonce]]);
    assert.deepEqual(gate.snapshot(user.address), { ...after, reserved: 0n });
  });

  it('checks the cap against what the ledger holds, re-reading a cached balance once', async () => {
    const signer = receiptSigner(user, provider.address, fx.domain);
    signer.reuse(gate.snapshot(user.address).lastNonce! + 1n);
    const over = await gate.authorise(await signer.headers(10_001n, { nonce: signer.nextNonce }));
    await assert.rejects(gate.reserve(over, 1n), (err: unknown) => {
      assert.ok(err instanceof InvalidInputError && err.code === 'SERVING_INSUFFICIENT_BALANCE');
      assert.deepEqual([err.meta.required, err.meta.available, err.meta.shortfall], ['10001', '10000', '1']);
      return true;
    });
    await fx.ledgerTx(user, 'fund', [provider.address, 1n]);
    // Still within the cache time: the refusal above made it read again, and so does this one.
    await gate.reserve(over, 1n).then((r) => r.release());
  });

  it('with native crypto, passes the user\'s receipt and refuses forged, re-targeted, tampered or flipped ones', async () => {
    const ecdsa = nativeEcdsa();
    assert.ok(ecdsa, 'the native secp256k1 addon loads');
    const fastStore = openReceiptsStore({ path: join(fx.dir, 'gate-native.sqlite') });
    try {
      const crypto = { ecdsa, keccak: (await loadKeccak()).hash };
      const fast = createBillingGate({ store: fastStore, client: fx.evm.publicClient, domain: fx.domain, provider: provider.address, prices, crypto });
      const signer = receiptSigner(user, provider.address, fx.domain);
      const mallory = fx.evm.accounts[2]!;
      const genuine = await signer.headers(500n, { nonce: 0n });
      const flipped = { ...genuine, 'X-Levity-Signature': `${genuine['X-Levity-Signature']!.slice(0, 130)}${genuine['X-Levity-Signature']!.endsWith('1b') ? '1c' : '1b'}` };
      for (const forged of [
        await signer.headers(500n, { nonce: 0n, signer: mallory }),
        await signer.headers(500n, { nonce: 0n, provider: mallory.address }),
        { ...genuine, 'X-Levity-Cumulative': '5000' },
        { ...genuine, 'X-Levity-Nonce': '1' },
        flipped,
      ]) {
        await assert.rejects(fast.authorise(forged), code('SERVING_BAD_SIGNATURE'));
      }
      const claim = await fast.authorise(genuine);
      assert.deepEqual([claim.user, claim.nonce, claim.cumulative], [user.address, 0n, 500n]);
    } finally {
      fastStore.close();
    }
  });
});
