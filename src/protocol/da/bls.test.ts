import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fastAggregateVerify, PublicKey, Signature } from '@chainsafe/blst';
import { bls12_381 } from '@noble/curves/bls12-381.js';
import { bytesToBigInt, bytesToHex } from 'viem';
import { blsAggregateSignatures, blsKeyFromSeed, blsPublicKey, blsSign, blsVerify } from './bls.ts';
import { g1FromEip2537, g1ToEip2537, g2FromEip2537, g2ToEip2537, g2PointFromEip2537, isEip2537Infinity } from './bls-eip2537.ts';
import { BLS_DST } from './constants.ts';

const noble = bls12_381.longSignatures;
const seed = (b: number) => new Uint8Array(32).fill(b);
const message = new TextEncoder().encode('levity attestation');
const G1_INFINITY = Uint8Array.from([0xc0, ...new Uint8Array(47)]);
const G2_INFINITY = Uint8Array.from([0xc0, ...new Uint8Array(95)]);

describe('blst keys and signatures', () => {
  it('derives the same keys from the same seed, and refuses a short one', () => {
    const a = blsKeyFromSeed(seed(1));
    assert.deepEqual(blsKeyFromSeed(seed(1)), a);
    assert.notDeepEqual(blsKeyFromSeed(seed(2)).publicKey, a.publicKey);
    assert.equal(a.secretKey.length, 32);
    assert.equal(a.publicKey.length, 48);
    assert.deepEqual(blsPublicKey(a.secretKey), a.publicKey);
    assert.throws(() => blsKeyFromSeed(new Uint8Array(31)), { code: 'DA_BLS_SEED_SHORT' });
    assert.throws(() => blsSign(new Uint8Array(32), message), { code: 'DA_BLS_SECRET_KEY_MALFORMED' });
  });

  it('verifies its own signatures and nothing else', () => {
    const { secretKey, publicKey } = blsKeyFromSeed(seed(1));
    const signature = blsSign(secretKey, message);
    assert.equal(signature.length, 96);
    assert.equal(blsVerify(publicKey, message, signature), true);
    assert.equal(blsVerify(publicKey, new Uint8Array([1]), signature), false);
    assert.equal(blsVerify(blsKeyFromSeed(seed(2)).publicKey, message, signature), false);
  });

  it('answers false, never throws, on malformed input and on infinity', () => {
    const { secretKey, publicKey } = blsKeyFromSeed(seed(1));
    const signature = blsSign(secretKey, message);
    const flipped = Uint8Array.from(signature);
    flipped[10]! ^= 0xff;
    const cases: [Uint8Array, Uint8Array][] = [
      [publicKey.subarray(1), signature],
      [publicKey, signature.subarray(1)],
      [new Uint8Array(48).fill(0xff), signature],
      [publicKey, flipped],
      [G1_INFINITY, signature],
      [publicKey, G2_INFINITY],
      // With both at infinity the pairing equation holds: only the explicit check stops it.
      [G1_INFINITY, G2_INFINITY],
    ];
    for (const [pk, sig] of cases) assert.equal(blsVerify(pk, message, sig), false);
    assert.equal(blsVerify(publicKey, 'nope' as unknown as Uint8Array, signature), false);
  });

  it('aggregates signatures of one message into one that fastAggregateVerify accepts', () => {
    const keys = [1, 2, 3].map((b) => blsKeyFromSeed(seed(b)));
    const aggregate = blsAggregateSignatures(keys.map((k) => blsSign(k.secretKey, message)));
    const pks = keys.map((k) => PublicKey.fromBytes(k.publicKey, true));
    assert.equal(fastAggregateVerify(message, pks, Signature.fromBytes(aggregate, true)), true);
    assert.equal(fastAggregateVerify(message, pks.slice(0, 2), Signature.fromBytes(aggregate, true)), false);
    // noble agrees: the aggregate verifies under the sum of the keys.
    const apk = noble.aggregatePublicKeys(keys.map((k) => k.publicKey));
    assert.equal(noble.verify(aggregate, noble.hash(message, BLS_DST), apk), true);
    assert.throws(() => blsAggregateSignatures([]), { code: 'DA_BLS_NO_SIGNATURES' });
    assert.throws(() => blsAggregateSignatures([aggregate, new Uint8Array(96).fill(1)]), { code: 'DA_BLS_SIGNATURE_MALFORMED', meta: { index: 1 } });
  });
});

describe('blst and noble interop', () => {
  it('hash to G2 (RFC 9380, our DST): noble H(m)·sk equals the blst signature', () => {
    const { secretKey } = blsKeyFromSeed(seed(4));
    const sk = bytesToBigInt(secretKey);
    for (const m of [new Uint8Array(0), message, new Uint8Array(32).fill(0xab)]) {
      const h = bls12_381.G2.hashToCurve(m, { DST: BLS_DST });
      assert.ok(h.equals(noble.hash(m, BLS_DST)));
      assert.equal(bytesToHex(h.multiply(sk).toBytes(true)), bytesToHex(blsSign(secretKey, m)));
    }
  });

  it('each verifies the other’s signatures with the POP DST, and not with noble’s default', () => {
    const { secretKey, publicKey } = blsKeyFromSeed(seed(5));
    assert.deepEqual(noble.getPublicKey(secretKey).toBytes(true), publicKey);
    const byBlst = blsSign(secretKey, message);
    assert.equal(noble.verify(byBlst, noble.hash(message, BLS_DST), publicKey), true);
    assert.equal(noble.verify(byBlst, noble.hash(message), publicKey), false);
    const byNoble = noble.sign(noble.hash(message, BLS_DST), secretKey).toBytes(true);
    assert.equal(blsVerify(publicKey, message, byNoble), true);
  });
});

describe('EIP-2537 encodings', () => {
  const { secretKey, publicKey } = blsKeyFromSeed(seed(6));
  const signature = blsSign(secretKey, message);

  it('round-trips G1 and G2, infinity included', () => {
    const g1 = g1ToEip2537(publicKey);
    assert.equal(g1.length, 128);
    assert.deepEqual(g1FromEip2537(g1), publicKey);
    const g2 = g2ToEip2537(signature);
    assert.equal(g2.length, 256);
    assert.deepEqual(g2FromEip2537(g2), signature);
    assert.deepEqual(g1ToEip2537(G1_INFINITY), new Uint8Array(128));
    assert.deepEqual(g2ToEip2537(G2_INFINITY), new Uint8Array(256));
    assert.deepEqual(g1FromEip2537(new Uint8Array(128)), G1_INFINITY);
    assert.deepEqual(g2FromEip2537(new Uint8Array(256)), G2_INFINITY);
    assert.equal(isEip2537Infinity(new Uint8Array(256)), true);
    assert.equal(isEip2537Infinity(g2), false);
  });

  it('pads every Fp to 64 bytes and orders Fp2 as c0 ‖ c1 (compressed is c1 ‖ c0)', () => {
    const g1 = g1ToEip2537(publicKey);
    const g2 = g2ToEip2537(signature);
    for (const offset of [0, 64]) assert.deepEqual(g1.subarray(offset, offset + 16), new Uint8Array(16));
    for (const offset of [0, 64, 128, 192]) assert.deepEqual(g2.subarray(offset, offset + 16), new Uint8Array(16));
    // Compressed x without its 3 flag bits equals the EIP-2537 x.
    const x1 = Uint8Array.from(publicKey);
    x1[0]! &= 0x1f;
    assert.deepEqual(g1.subarray(16, 64), x1);
    // Compressed G2 starts with x.c1; EIP-2537 puts x.c0 first and x.c1 second.
    const xc1 = Uint8Array.from(signature.subarray(0, 48));
    xc1[0]! &= 0x1f;
    assert.deepEqual(g2.subarray(64 + 16, 128), xc1);
    assert.deepEqual(g2.subarray(16, 64), signature.subarray(48, 96));
    const point = g2PointFromEip2537(g2).toAffine();
    assert.equal(bytesToBigInt(g2.subarray(16, 64)), point.x.c0);
  });

  it('refuses malformed points with DA_BLS_POINT_MALFORMED', () => {
    const bad = { code: 'DA_BLS_POINT_MALFORMED' };
    const g1 = g1ToEip2537(publicKey);
    const g2 = g2ToEip2537(signature);
    const edit = (bytes: Uint8Array, index: number, value: number) => {
      const copy = Uint8Array.from(bytes);
      copy[index] = value;
      return copy;
    };
    assert.throws(() => g1FromEip2537(g1.subarray(1)), bad);
    assert.throws(() => g1FromEip2537(edit(g1, 0, 1)), bad); // padding
    assert.throws(() => g1FromEip2537(edit(g1, 127, g1[127]! ^ 1)), bad); // off the curve
    assert.throws(() => g2FromEip2537(edit(g2, 15, 1)), bad);
    assert.throws(() => g2FromEip2537(edit(g2, 255, g2[255]! ^ 1)), bad);
    assert.throws(() => g1ToEip2537(new Uint8Array(48).fill(0xff)), bad);
    assert.throws(() => g2ToEip2537(signature.subarray(0, 95)), bad);
    // A coordinate not below p.
    const overP = Uint8Array.from(g1);
    overP.fill(0xff, 16, 64);
    assert.throws(() => g1FromEip2537(overP), bad);
  });

  it('refuses an on-curve G1 point outside the prime-order subgroup', () => {
    const { Fp } = bls12_381.fields;
    // x = 4 gives a point on y² = x³ + 4 whose order is not r (the cofactor is large).
    const x = 4n;
    const y = Fp.sqrt(Fp.add(Fp.pow(x, 3n), 4n));
    const bytes = new Uint8Array(128);
    bytes.set(Buffer.from(x.toString(16).padStart(96, '0'), 'hex'), 16);
    bytes.set(Buffer.from(y.toString(16).padStart(96, '0'), 'hex'), 80);
    assert.throws(() => g1FromEip2537(bytes), { code: 'DA_BLS_POINT_MALFORMED' });
  });
});
