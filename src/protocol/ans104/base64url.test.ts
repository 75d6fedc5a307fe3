import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fromB64Url, isTxId, toB64Url } from './base64url.ts';
import { InvalidInputError } from '../errors.ts';

describe('base64url', () => {
  it('round-trips every length without padding', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(randomBytes(n));
      const text = toB64Url(bytes);
      assert.doesNotMatch(text, /[=+/]/);
      assert.deepEqual(fromB64Url(text), bytes);
    }
  });

  it('encodes a view, not its whole buffer', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    assert.equal(toB64Url(backing.subarray(1, 3)), Buffer.from([2, 3]).toString('base64url'));
  });

  it('returns plain Uint8Arrays', () => {
    assert.equal(Object.getPrototypeOf(fromB64Url('AQID')), Uint8Array.prototype);
  });

  it('accepts correct padding', () => {
    assert.deepEqual(fromB64Url('AQ=='), new Uint8Array([1]));
    assert.deepEqual(fromB64Url('AQI='), new Uint8Array([1, 2]));
  });

  it('throws ANS104_BAD_BASE64URL on bad characters or impossible lengths', () => {
    for (const bad of ['ab+c', 'ab/c', 'a b', 'abcde', 'AQ=', '=AQ=', 'é']) {
      assert.throws(
        () => fromB64Url(bad),
        (error: unknown) => error instanceof InvalidInputError && error.code === 'ANS104_BAD_BASE64URL',
        bad,
      );
    }
  });

  it('recognises 43-char ids that decode to 32 bytes', () => {
    const id = toB64Url(new Uint8Array(randomBytes(32)));
    assert.equal(isTxId(id), true);
    assert.equal(isTxId(id.slice(1)), false);
    assert.equal(isTxId(`${id}A`), false);
    assert.equal(isTxId(`${id.slice(0, 42)}+`), false);
    assert.equal(isTxId(42), false);
    // A last character with low bits set decodes to the same bytes: not a canonical id.
    assert.equal(isTxId(`${'A'.repeat(42)}B`), false);
    assert.equal(isTxId(`${'A'.repeat(42)}E`), true);
  });
});
