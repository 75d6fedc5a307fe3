import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { privateKeyToAddress } from 'viem/accounts';
import { ownerAddress } from './address.ts';
import { ed25519Signer, ethereumSigner } from './signers.ts';

describe('ownerAddress', () => {
  it('is base64url(sha256(owner)) for Arweave and ed25519 owners', () => {
    const rsaOwner = new Uint8Array(512).fill(0xab);
    assert.equal(ownerAddress(1, rsaOwner), createHash('sha256').update(rsaOwner).digest('base64url'));
    const ed = ed25519Signer(new Uint8Array(32).fill(1)).publicKey;
    assert.equal(ownerAddress(2, ed), createHash('sha256').update(ed).digest('base64url'));
    assert.equal(ownerAddress(2, ed).length, 43);
  });

  it('is the EIP-55 Ethereum address for 65-byte secp256k1 owners', () => {
    const key = `0x${'42'.repeat(32)}` as const;
    const address = ownerAddress(3, ethereumSigner(key).publicKey);
    assert.equal(address, privateKeyToAddress(key));
    assert.match(address, /^0x[0-9a-fA-F]{40}$/);
    assert.notEqual(address, address.toLowerCase());
  });
});
