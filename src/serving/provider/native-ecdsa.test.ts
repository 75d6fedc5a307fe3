import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ecdsaContract } from '../../protocol/serving/ecdsa.test-kit.ts';
import { loadKeccak } from '../../protocol/storage/keccak.ts';
import { nativeEcdsa, nativeEcdsaError } from './native-ecdsa.ts';

const native = nativeEcdsa();
const keccak = (await loadKeccak()).hash;

describe('native ecdsa (libsecp256k1) with wasm keccak', () => {
  it('loads on this platform', () => {
    assert.ok(native, `secp256k1 bindings did not load: ${String(nativeEcdsaError())}`);
  });
  if (native) ecdsaContract(native, keccak);
});
