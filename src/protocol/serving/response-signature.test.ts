import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAbiParameters, keccak256, numberToHex, stringToBytes, verifyMessage } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { InvalidInputError } from '../errors.ts';
import { RESPONSE_DOMAIN, responseDigest, signResponse, verifyResponse } from './response-signature.ts';
import type { ResponseMessage } from './response-signature.ts';

const provider = privateKeyToAccount(`0x${'22'.repeat(32)}`);
const other = privateKeyToAccount(`0x${'33'.repeat(32)}`);
const message: ResponseMessage = {
  provider: provider.address,
  user: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  nonce: 3n,
  id: 'chatcmpl-1',
  model: 'levity-tiny',
  promptTokens: 12,
  completionTokens: 5,
  cost: 12n * 3n + 5n * 7n,
  spentAfter: 1_000n,
  content: 'Hello, wörld 👋',
};
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe('response signatures', () => {
  it('digests the agreed layout', () => {
    assert.equal(RESPONSE_DOMAIN, keccak256(stringToBytes('levity.serving.response.v1')));
    const h = (s: string) => keccak256(stringToBytes(s));
    const expected = keccak256(
      encodeAbiParameters(
        ['bytes32', 'address', 'address', 'uint256', 'bytes32', 'bytes32', 'uint256', 'uint256', 'uint256', 'uint256', 'bytes32'].map((type) => ({ type })),
        [RESPONSE_DOMAIN, message.provider, message.user, 3n, h('chatcmpl-1'), h('levity-tiny'), 12n, 5n, 71n, 1000n, h('Hello, wörld 👋')],
      ),
    );
    assert.equal(responseDigest(message), expected);
    assert.equal(responseDigest({ ...message, promptTokens: 12n, completionTokens: 5n }), expected);
  });

  it('signs with EIP-191 personal_sign over the digest, and verifies', async () => {
    const signature = await signResponse(provider, message);
    assert.equal(await verifyMessage({ address: provider.address, message: { raw: responseDigest(message) }, signature }), true);
    assert.equal(await verifyResponse(message, signature), true);
  });

  it('fails for any changed field, another signer, or a malleated signature', async () => {
    const signature = await signResponse(provider, message);
    const changed: Partial<ResponseMessage>[] = [
      { content: 'Hello, world 👋' },
      { id: 'chatcmpl-2' },
      { model: 'other' },
      { nonce: 4n },
      { promptTokens: 13 },
      { completionTokens: 6 },
      { cost: 72n },
      { spentAfter: 1_001n },
      { user: other.address },
      { provider: other.address },
    ];
    for (const change of changed) assert.equal(await verifyResponse({ ...message, ...change }, signature), false, Object.keys(change).join());
    assert.equal(await verifyResponse(message, await signResponse(other, message)), false);

    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const flippedV = signature.endsWith('1b') ? '1c' : '1b';
    const twin = `${signature.slice(0, 66)}${numberToHex(N - s, { size: 32 }).slice(2)}${flippedV}` as Hex;
    assert.equal(await verifyMessage({ address: provider.address, message: { raw: responseDigest(message) }, signature: twin }), true);
    assert.equal(await verifyResponse(message, twin), false);
    assert.equal(await verifyResponse(message, '0x1234'), false);
    assert.equal(await verifyResponse(message, `0x${'00'.repeat(65)}`), false);
  });

  it('throws a typed error for a message that cannot be encoded', () => {
    const invalid = (m: ResponseMessage) =>
      assert.throws(() => responseDigest(m), (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_RESPONSE_INVALID');
    invalid({ ...message, provider: '0x12' });
    invalid({ ...message, cost: -1n });
    invalid({ ...message, promptTokens: 1.5 });
  });
});
