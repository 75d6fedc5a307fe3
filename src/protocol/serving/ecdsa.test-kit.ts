/**
 * The contract every Ecdsa (and keccak) implementation meets, run by each implementation's own test:
 * viem's bytes for every signature, ecrecover's key for every recovery, and the serving rules built
 * on them (receipt checks, response signatures) unchanged. Keys and messages are many and
 * pseudo-random but fixed, so a failure reproduces.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashMessage, keccak256, numberToHex, recoverPublicKey, stringToBytes } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount, sign as viemSign } from 'viem/accounts';
import { InvalidInputError } from '../errors.ts';
import { personalDigest, publicKeyAddress, signatureHex } from './ecdsa.ts';
import type { Ecdsa, Keccak256 } from './ecdsa.ts';
import { createReceiptVerifier } from './receipt-verifier.ts';
import { signReceipt } from './receipt.ts';
import type { Receipt, ReceiptDomain } from './receipt.ts';
import { signResponse, signResponseWith, verifyResponse } from './response-signature.ts';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const CASES = 48;
const domain: ReceiptDomain = { chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };

const fixed = (label: string, i: number): Hex => keccak256(stringToBytes(`levity.ecdsa.case/${label}/${i}`));
const bytes = (hex: Hex) => Uint8Array.from(Buffer.from(hex.slice(2), 'hex'));
const hex = (data: Uint8Array): Hex => `0x${Buffer.from(data).toString('hex')}`;
const badSignature = (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_BAD_SIGNATURE';

/** Registers the contract's tests (call inside a describe). */
export function ecdsaContract(ecdsa: Ecdsa, keccak: Keccak256): void {
  it('hashes as keccak256', () => {
    for (const size of [0, 1, 32, 64, 135, 136, 137, 352, 1000]) {
      const data = new Uint8Array(size).map((_, i) => (i * 7 + size) & 0xff);
      assert.equal(hex(keccak(data)), keccak256(data));
    }
  });

  it('signs byte for byte as viem, for many keys and digests (RFC 6979, low s, v 27/28)', async () => {
    for (let i = 0; i < CASES; i++) {
      const key = fixed('key', i);
      const digest = fixed('digest', i);
      const ours = signatureHex(ecdsa.sign(bytes(digest), bytes(key)));
      assert.equal(ours, await viemSign({ hash: digest, privateKey: key, to: 'hex' }), `case ${i}`);
      assert.ok(BigInt(`0x${ours.slice(66, 130)}`) <= N / 2n, 'low s');
      // personal_sign of a raw 32-byte message, as the provider signs responses.
      const account = privateKeyToAccount(key);
      assert.equal(hex(personalDigest(bytes(digest), keccak)), hashMessage({ raw: digest }));
      assert.equal(signatureHex(ecdsa.sign(personalDigest(bytes(digest), keccak), bytes(key))), await account.signMessage({ message: { raw: digest } }));
    }
  });

  it('recovers the key ecrecover gives, for both recovery bits', async () => {
    for (let i = 0; i < CASES; i++) {
      const key = fixed('key', i);
      const digest = fixed('digest', i);
      const signature = await viemSign({ hash: digest, privateKey: key, to: 'hex' });
      const compact = bytes(`0x${signature.slice(2, 130)}`);
      for (const recovery of [0, 1] as const) {
        const expected = await recoverPublicKey({ hash: digest, signature: `${signature.slice(0, 130)}${recovery === 1 ? '1c' : '1b'}` as Hex }).catch(() => undefined);
        const got = ecdsa.recover(bytes(digest), compact, recovery);
        assert.equal(got && `0x04${Buffer.from(got).toString('hex')}`, expected, `case ${i} v ${recovery}`);
      }
      const recovered = ecdsa.recover(bytes(digest), compact, signature.endsWith('1c') ? 1 : 0);
      assert.equal(recovered && publicKeyAddress(recovered, keccak), privateKeyToAccount(key).address);
    }
  });

  it('recovers nothing where ecrecover fails (r or s zero or ≥ n, r off the curve)', async () => {
    const digest = bytes(fixed('digest', 0));
    const signature = await viemSign({ hash: fixed('digest', 0), privateKey: fixed('key', 0), to: 'hex' });
    const r = signature.slice(2, 66);
    const s = signature.slice(66, 130);
    const word = (value: bigint) => numberToHex(value, { size: 32 }).slice(2);
    // x = 5 has no point on secp256k1 (5³ + 7 = 132 is not a square mod p).
    for (const [rr, ss] of [[word(0n), s], [r, word(0n)], [word(N), s], [r, word(N)], [word(N + 1n), s], [word(2n ** 256n - 1n), s], [word(5n), s]]) {
      for (const recovery of [0, 1] as const) assert.equal(ecdsa.recover(digest, bytes(`0x${rr}${ss}`), recovery), undefined, `${rr} ${ss}`);
    }
  });

  it('checks receipts as full recovery does: the user passes, any other signer is named, malformed ones throw', async () => {
    const verifier = createReceiptVerifier({ domain }, { ecdsa, keccak });
    const user = privateKeyToAccount(fixed('user', 0));
    const mallory = privateKeyToAccount(fixed('mallory', 0));
    const provider = privateKeyToAccount(fixed('provider', 0)).address;
    const receipt = (nonce: bigint, cumulativeAmount = 1_000n * (nonce + 1n)): Receipt => ({ user: user.address, provider, cumulativeAmount, nonce });
    for (let nonce = 0n; nonce < 8n; nonce++) {
      const signature = await signReceipt(user, domain, receipt(nonce));
      assert.equal(verifier.signer(receipt(nonce), signature), user.address);
      // A forged receipt (another key), a flipped v, a changed amount or nonce: never the user.
      assert.equal(verifier.signer(receipt(nonce), await signReceipt(mallory, domain, receipt(nonce))), mallory.address);
      const flipped = `${signature.slice(0, 130)}${signature.endsWith('1b') ? '1c' : '1b'}` as Hex;
      for (const [r, s] of [[receipt(nonce), flipped], [receipt(nonce, 1n), signature], [receipt(nonce + 1n), signature]] as const) {
        let named: string | undefined;
        try {
          named = verifier.signer(r, s);
        } catch (error) {
          assert.ok(badSignature(error));
        }
        assert.notEqual(named, user.address);
      }
    }
    const signature = await signReceipt(user, domain, receipt(0n));
    const highS = `${signature.slice(0, 66)}${numberToHex(N - BigInt(`0x${signature.slice(66, 130)}`), { size: 32 }).slice(2)}${signature.endsWith('1b') ? '1c' : '1b'}` as Hex;
    const zeroR = `0x${'00'.repeat(32)}${signature.slice(66)}` as Hex;
    for (const bad of [highS, zeroR, `${signature.slice(0, 130)}00` as Hex, signature.slice(0, 130) as Hex, `${signature}00` as Hex]) {
      assert.throws(() => verifier.signer(receipt(0n), bad), badSignature, bad);
    }
  });

  it('signs responses exactly as signResponse does with the account', async () => {
    for (let i = 0; i < 8; i++) {
      const account = privateKeyToAccount(fixed('provider', i));
      const message = {
        provider: account.address,
        user: privateKeyToAccount(fixed('user', i)).address,
        nonce: BigInt(i),
        id: `chatcmpl-${i}`,
        model: 'levity-tiny',
        promptTokens: 10 + i,
        completionTokens: i,
        cost: 123n * BigInt(i),
        spentAfter: 1_000n * BigInt(i),
        content: `réponse ${'✓'.repeat(i)}`,
      };
      const ours = signResponseWith(ecdsa, bytes(fixed('provider', i)), message, keccak);
      assert.equal(ours, await signResponse(account, message));
      assert.ok(await verifyResponse(message, ours));
    }
  });
}
