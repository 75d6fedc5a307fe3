import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts';
import { InvalidInputError } from '../../protocol/errors.ts';
import { nobleEcdsa } from '../../protocol/serving/ecdsa.ts';
import { signResponse, verifyResponse } from '../../protocol/serving/response-signature.ts';
import type { ResponseMessage } from '../../protocol/serving/response-signature.ts';
import { loadKeccak } from '../../protocol/storage/keccak.ts';
import { nativeEcdsa } from './native-ecdsa.ts';
import { createResponseSigner } from './response-signer.ts';

const KEY = `0x${'42'.repeat(32)}` as const;
const keccak = (await loadKeccak()).hash;
const ecdsa = nativeEcdsa() ?? nobleEcdsa;
const message = (provider: `0x${string}`): ResponseMessage => ({
  provider,
  user: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  nonce: 9n,
  id: 'chatcmpl-x',
  model: 'levity-tiny',
  promptTokens: 3,
  completionTokens: 4,
  cost: 700n,
  spentAfter: 7_000n,
  content: 'fast and the same',
});

const badKey = (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_PROVIDER_KEY';

describe('response signer', () => {
  it('signs directly with a given key, byte for byte as the account would', async () => {
    const account = privateKeyToAccount(KEY);
    const signer = createResponseSigner({ account, privateKey: KEY, ecdsa, keccak });
    assert.equal(signer.direct, true);
    const signature = await signer.sign(message(account.address));
    assert.equal(signature, await signResponse(account, message(account.address)));
    assert.ok(await verifyResponse(message(account.address), signature));
  });

  it("finds an HD account's own key", async () => {
    const account = mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 3 });
    const signer = createResponseSigner({ account, ecdsa, keccak });
    assert.equal(signer.direct, true);
    assert.equal(await signer.sign(message(account.address)), await signResponse(account, message(account.address)));
  });

  it('falls back to the account without a key or without an Ecdsa', async () => {
    const account = privateKeyToAccount(KEY);
    for (const signer of [createResponseSigner({ account, ecdsa, keccak }), createResponseSigner({ account, privateKey: KEY })]) {
      assert.equal(signer.direct, false);
      assert.equal(await signer.sign(message(account.address)), await signResponse(account, message(account.address)));
    }
  });

  it("refuses a key that is not the account's", () => {
    const account = privateKeyToAccount(KEY);
    for (const privateKey of [`0x${'43'.repeat(32)}`, `0x${'00'.repeat(32)}`, '0x1234', `0x${'zz'.repeat(32)}`] as const) {
      assert.throws(() => createResponseSigner({ account, privateKey, ecdsa, keccak }), badKey, privateKey);
    }
  });
});
