import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { toHex } from './bytes.ts';
import { EMPTY_CHUNK_HASH, zeroHashes, zeroTable } from './constants.ts';
import { loadKeccak } from './keccak.ts';

const keccak = await loadKeccak();
const ascii = (text: string) => new TextEncoder().encode(text);

describe('keccak', () => {
  it('is keccak256 (not SHA3-256)', () => {
    assert.equal(toHex(keccak.hash(new Uint8Array())), '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
    assert.equal(toHex(keccak.hash(ascii('abc'))), '0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45');
  });

  it('loads once and hands back the same instance', async () => {
    assert.equal(await loadKeccak(), keccak);
  });

  it('hashes a pair as the hash of the concatenation', () => {
    const left = keccak.hash(ascii('left'));
    const right = keccak.hash(ascii('right'));
    const joined = new Uint8Array(64);
    joined.set(left);
    joined.set(right, 32);
    assert.deepEqual(keccak.hashPair(left, right), keccak.hash(joined));
    assert.throws(() => keccak.hashPair(left, joined), RangeError);
  });

  it('returns results that later hashes do not overwrite', () => {
    const first = keccak.hash(ascii('one'));
    const copy = first.slice();
    keccak.hash(ascii('two'));
    assert.deepEqual(first, copy);
  });
});

describe('zero hashes', () => {
  it('start at EMPTY_CHUNK_HASH and double up', () => {
    const zero = zeroHashes(keccak, 4);
    assert.equal(zero.length, 4);
    assert.equal(toHex(zero[0]!), EMPTY_CHUNK_HASH);
    for (let i = 1; i < 4; i++) assert.deepEqual(zero[i], keccak.hashPair(zero[i - 1]!, zero[i - 1]!));
  });

  it('are cached per keccak instance', () => {
    assert.equal(zeroTable(keccak), zeroTable(keccak));
    assert.equal(zeroTable(keccak).length, 64);
    assert.deepEqual(zeroTable(keccak).slice(0, 4), zeroHashes(keccak, 4));
  });
});
