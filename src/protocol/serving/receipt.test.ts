import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { concat, encodeAbiParameters, keccak256, numberToHex, stringToBytes } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { InvalidInputError } from '../errors.ts';
import { receiptDigest, recoverReceiptSigner, RECEIPT_TYPES, signatureProblem, signReceipt, verifyReceipt } from './receipt.ts';
import type { Receipt, ReceiptDomain } from './receipt.ts';

const user = privateKeyToAccount(`0x${'11'.repeat(32)}`);
const provider = privateKeyToAccount(`0x${'22'.repeat(32)}`);
const domain: ReceiptDomain = { chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const receipt: Receipt = { user: user.address, provider: provider.address, cumulativeAmount: 123_456_789n, nonce: 7n };
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** The same digest built from the type strings the contract hashes, not from viem's typed-data code. */
function digestByHand(d: ReceiptDomain, r: Receipt): Hex {
  const domainTypehash = keccak256(stringToBytes('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'));
  const separator = keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'bytes32' }, { type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }],
      [domainTypehash, keccak256(stringToBytes('Levity Serving')), keccak256(stringToBytes('1')), BigInt(d.chainId), d.verifyingContract],
    ),
  );
  const typehash = keccak256(stringToBytes('Receipt(address user,address provider,uint256 cumulativeAmount,uint256 nonce)'));
  const structHash = keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'address' }, { type: 'address' }, { type: 'uint256' }, { type: 'uint256' }],
      [typehash, r.user, r.provider, r.cumulativeAmount, r.nonce],
    ),
  );
  return keccak256(concat(['0x1901', separator, structHash]));
}

/** The malleable twin of a canonical signature: s → n − s, v flipped. Same signer, different bytes. */
function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  return `${signature.slice(0, 66)}${numberToHex(N - s, { size: 32 }).slice(2)}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

const rejectsBadSignature = (action: Promise<unknown>) =>
  assert.rejects(action, (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_BAD_SIGNATURE');

describe('serving receipts', () => {
  it('hashes exactly as the ledger does (EIP-712 by hand)', () => {
    assert.deepEqual(
      RECEIPT_TYPES.Receipt.map((f) => `${f.type} ${f.name}`).join(','),
      'address user,address provider,uint256 cumulativeAmount,uint256 nonce',
    );
    assert.equal(receiptDigest(domain, receipt), digestByHand(domain, receipt));
    assert.equal(receiptDigest({ ...domain, chainId: 31337n }, receipt), digestByHand(domain, receipt));
  });

  it('signs canonically and recovers the user', async () => {
    const signature = await signReceipt(user, domain, receipt);
    assert.equal(signatureProblem(signature), undefined);
    assert.equal(await recoverReceiptSigner(domain, receipt, signature), user.address);
    assert.equal(await verifyReceipt(domain, receipt, signature), true);
  });

  it('binds the chain, the ledger and every field', async () => {
    const signature = await signReceipt(user, domain, receipt);
    assert.equal(await verifyReceipt({ ...domain, chainId: 1 }, receipt, signature), false);
    assert.equal(await verifyReceipt({ ...domain, verifyingContract: provider.address }, receipt, signature), false);
    assert.equal(await verifyReceipt(domain, { ...receipt, cumulativeAmount: receipt.cumulativeAmount + 1n }, signature), false);
    assert.equal(await verifyReceipt(domain, { ...receipt, nonce: 8n }, signature), false);
    assert.equal(await verifyReceipt(domain, { ...receipt, provider: user.address }, signature), false);
    assert.equal(await verifyReceipt(domain, receipt, await signReceipt(provider, domain, receipt)), false);
  });

  it('rejects what the ledger rejects: high s, v not 27/28, wrong length, not hex', async () => {
    const signature = await signReceipt(user, domain, receipt);
    const twin = highS(signature);
    assert.match(signatureProblem(twin) ?? '', /upper half/);
    await rejectsBadSignature(recoverReceiptSigner(domain, receipt, twin));
    assert.equal(await verifyReceipt(domain, receipt, twin), false);

    const v0 = `${signature.slice(0, 130)}${signature.endsWith('1b') ? '00' : '01'}` as Hex;
    assert.match(signatureProblem(v0) ?? '', /v is/);
    await rejectsBadSignature(recoverReceiptSigner(domain, receipt, v0));

    await rejectsBadSignature(recoverReceiptSigner(domain, receipt, signature.slice(0, 130) as Hex));
    await rejectsBadSignature(recoverReceiptSigner(domain, receipt, `${signature}00` as Hex));
    await rejectsBadSignature(recoverReceiptSigner(domain, receipt, 'hello' as Hex));
    // r = 0 is no point on the curve: nothing recovers.
    const zeroR = `0x${'00'.repeat(32)}${signature.slice(66)}` as Hex;
    assert.equal(await verifyReceipt(domain, receipt, zeroR), false);
  });

  it('refuses receipts whose fields do not fit their types', async () => {
    const invalid = (r: Receipt) =>
      assert.throws(() => receiptDigest(domain, r), (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_RECEIPT_INVALID');
    invalid({ ...receipt, cumulativeAmount: -1n });
    invalid({ ...receipt, nonce: 2n ** 256n });
    invalid({ ...receipt, user: '0x1234' });
    await assert.rejects(signReceipt(user, domain, { ...receipt, nonce: -1n }), InvalidInputError);
  });
});
