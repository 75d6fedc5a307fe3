import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SIG_CONFIG } from '@dha-team/arbundles';
import { SIGNATURE_TYPES, signatureTypeInfo } from './signature-types.ts';

describe('SIGNATURE_TYPES', () => {
  it('matches arbundles SIG_CONFIG field sizes for every type', () => {
    const theirs = SIG_CONFIG as unknown as Record<string, { sigLength: number; pubLength: number }>;
    assert.deepEqual(Object.keys(SIGNATURE_TYPES).sort(), Object.keys(theirs).sort());
    for (const [type, info] of Object.entries(SIGNATURE_TYPES)) {
      assert.equal(info.signatureLength, theirs[type]!.sigLength, type);
      assert.equal(info.ownerLength, theirs[type]!.pubLength, type);
    }
  });

  it('looks types up without reaching the prototype', () => {
    assert.equal(signatureTypeInfo(2)?.ownerLength, 32);
    assert.equal(signatureTypeInfo(0), undefined);
    assert.equal(signatureTypeInfo(Number('constructor')), undefined);
  });
});
