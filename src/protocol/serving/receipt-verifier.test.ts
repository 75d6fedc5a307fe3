import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hashTypedData, hexToBytes, numberToHex } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { InvalidInputError } from '../errors.ts';
import { createReceiptVerifier, recoversTo } from './receipt-verifier.ts';
import {
  parseReceiptSignature,
  receiptDigest,
  receiptDigestBytes,
  receiptDomainSeparator,
  receiptTypedData,
  recoverReceiptSigner,
  recoverSignerKey,
  signReceipt,
} from './receipt.ts';
import type { Receipt, ReceiptDomain } from './receipt.ts';

const N = secp256k1.Point.Fn.ORDER;
const USER_KEY = 0x1111111111111111111111111111111111111111111111111111111111111111n;
const user = privateKeyToAccount(numberToHex(USER_KEY, { size: 32 }));
// The negated key signs for −P: same x, other y. Its signatures must never pass as the user's.
const twinKey = privateKeyToAccount(numberToHex(N - USER_KEY, { size: 32 }));
const mallory = privateKeyToAccount(`0x${'33'.repeat(32)}`);
const provider = privateKeyToAccount(`0x${'22'.repeat(32)}`);
const domain: ReceiptDomain = { chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const receipt = (nonce: bigint, cumulativeAmount = 1_000n * (nonce + 1n)): Receipt => ({ user: user.address, provider: provider.address, cumulativeAmount, nonce });

/** The same signature with v flipped: still low s, but ecrecover gives another key. */
const flipV = (signature: Hex): Hex => `${signature.slice(0, 130)}${signature.endsWith('1b') ? '1c' : '1b'}` as Hex;

const badSignature = (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_BAD_SIGNATURE';

describe('receipt verifier', () => {
  it('hashes receipts exactly as viem hashTypedData, at the edges of every field', () => {
    const max = 2n ** 256n - 1n;
    const lower = { ...domain, verifyingContract: domain.verifyingContract.toLowerCase() as Hex };
    for (const r of [receipt(0n, 0n), receipt(max, max), { ...receipt(7n), user: user.address.toLowerCase() as Hex }]) {
      for (const d of [domain, lower, { ...domain, chainId: 2n ** 64n }]) {
        assert.equal(receiptDigest(d, r), hashTypedData(receiptTypedData(d, r)));
        assert.equal(bytesToHex(receiptDigestBytes(receiptDomainSeparator(d), r)), receiptDigest(d, r));
      }
    }
  });

  it('names the same signer as full recovery, first from recovery and then from the cached key', async () => {
    const verifier = createReceiptVerifier({ domain });
    for (let nonce = 0n; nonce < 6n; nonce++) {
      const signature = await signReceipt(user, domain, receipt(nonce));
      assert.equal(verifier.signer(receipt(nonce), signature), user.address);
      assert.ok(verifier.knows(user.address));
      // Another key's receipt, a flipped v, a changed field: the real signer (never the user) is named.
      const forged = await signReceipt(mallory, domain, receipt(nonce));
      assert.equal(verifier.signer(receipt(nonce), forged), mallory.address);
      for (const [r, s] of [
        [receipt(nonce), flipV(signature)],
        [receipt(nonce, 1n), signature],
        [receipt(nonce + 1n), signature],
        [{ ...receipt(nonce), provider: mallory.address }, signature],
        [receipt(nonce), await signReceipt(twinKey, domain, receipt(nonce))],
      ] as const) {
        const expected = await recoverReceiptSigner(domain, r, s);
        assert.notEqual(expected, user.address);
        assert.equal(verifier.signer(r, s), expected);
      }
    }
    assert.ok(!verifier.knows(mallory.address) && !verifier.knows(twinKey.address), 'only verified signers are kept');
  });

  it('agrees with ecrecover on both recovery bits for many signatures', async () => {
    const key = recoverSignerKey(
      receiptDigestBytes(receiptDomainSeparator(domain), receipt(0n)),
      parseReceiptSignature(await signReceipt(user, domain, receipt(0n))),
    );
    const keyBytes = bytesToHex(key.toBytes(false));
    for (let nonce = 1n; nonce <= 40n; nonce++) {
      const digest = receiptDigestBytes(receiptDomainSeparator(domain), receipt(nonce));
      const signature = await signReceipt(user, domain, receipt(nonce));
      for (const candidate of [signature, flipV(signature)]) {
        const parsed = parseReceiptSignature(candidate);
        const recovered = bytesToHex(recoverSignerKey(digest, parsed).toBytes(false));
        assert.equal(recoversTo(key, digest, parsed), recovered === keyBytes);
      }
      assert.equal(recoversTo(key, digest, parseReceiptSignature(signature)), true);
      assert.equal(recoversTo(key, digest, parseReceiptSignature(flipV(signature))), false);
    }
  });

  it('rejects what the ledger rejects, cached key or not', async () => {
    const verifier = createReceiptVerifier({ domain });
    const signature = await signReceipt(user, domain, receipt(0n));
    verifier.signer(receipt(0n), signature);
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const highS = `${signature.slice(0, 66)}${numberToHex(N - s, { size: 32 }).slice(2)}${signature.endsWith('1b') ? '1c' : '1b'}` as Hex;
    const zeroR = `0x${'00'.repeat(32)}${signature.slice(66)}` as Hex;
    const zeroS = `${signature.slice(0, 66)}${'00'.repeat(32)}${signature.slice(130)}` as Hex;
    const rAboveN = `${numberToHex(N + 1n, { size: 32 })}${signature.slice(66)}` as Hex;
    for (const bad of [highS, zeroR, zeroS, rAboveN, `${signature.slice(0, 130)}00` as Hex, signature.slice(0, 130) as Hex]) {
      assert.throws(() => verifier.signer(receipt(0n), bad), badSignature, bad);
    }
    const digest = receiptDigestBytes(receiptDomainSeparator(domain), receipt(0n));
    const key = recoverSignerKey(digest, parseReceiptSignature(signature));
    assert.equal(recoversTo(key, digest, { r: 0n, s, recovery: 0 }), false);
    assert.equal(recoversTo(key, digest, { r: N, s, recovery: 0 }), false);
    assert.equal(recoversTo(key, hexToBytes(`0x${'00'.repeat(32)}`), parseReceiptSignature(signature)), false);
  });

  it('keeps at most maxKeys users, making room only for a key that has gone idle', async () => {
    const verifier = createReceiptVerifier({ domain, maxKeys: 1 });
    const forUser = (account: typeof user, nonce: bigint) => ({ ...receipt(nonce), user: account.address });
    const check = async (account: typeof user, nonce: bigint) => verifier.signer(forUser(account, nonce), await signReceipt(account, domain, forUser(account, nonce)));
    assert.equal(await check(user, 0n), user.address);
    // Mallory arrives while the user is busy: recovered in full, not kept.
    assert.equal(await check(mallory, 0n), mallory.address);
    assert.deepEqual([verifier.knows(user.address), verifier.knows(mallory.address)], [true, false]);
    assert.equal(await check(mallory, 1n), mallory.address);
    assert.equal(await check(user, 1n), user.address);
    // Once the user has been idle long enough, Mallory's key takes its place; the user is still recovered right.
    for (let nonce = 2n; nonce < 8n; nonce++) assert.equal(await check(mallory, nonce), mallory.address);
    assert.deepEqual([verifier.knows(user.address), verifier.knows(mallory.address)], [false, true]);
    assert.equal(await check(user, 2n), user.address);
    assert.equal(createReceiptVerifier({ domain, maxKeys: 0 }).signer(receipt(0n), await signReceipt(user, domain, receipt(0n))), user.address);
  });
});
