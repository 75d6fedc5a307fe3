import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { deepHash as arDeepHash } from '@dha-team/arbundles';
import { deepHash } from './deep-hash.ts';
import type { DeepHashChunk } from './deep-hash.ts';

const sha384 = (...parts: Uint8Array[]): Buffer => {
  const hash = createHash('sha384');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
const utf8 = (text: string): Uint8Array => new Uint8Array(Buffer.from(text));

describe('deepHash', () => {
  it('hashes a blob as SHA-384(SHA-384("blob"+len) ‖ SHA-384(bytes))', () => {
    const data = utf8('hello');
    assert.deepEqual(Buffer.from(deepHash(data)), sha384(sha384(utf8('blob5')), sha384(data)));
  });

  it('folds a list from SHA-384("list"+count)', () => {
    const a = utf8('a');
    const b = new Uint8Array(0);
    let acc = sha384(utf8('list2'));
    acc = sha384(acc, deepHash(a));
    acc = sha384(acc, deepHash(b));
    assert.deepEqual(Buffer.from(deepHash([a, b])), acc);
    assert.deepEqual(Buffer.from(deepHash([])), sha384(utf8('list0')));
  });

  it('matches arbundles on nested lists', async () => {
    const samples: DeepHashChunk[] = [
      new Uint8Array(0),
      utf8('dataitem'),
      [utf8('dataitem'), utf8('1'), utf8('2'), new Uint8Array(32).fill(7), new Uint8Array(0)],
      [[], [utf8('x'), [utf8('y'), new Uint8Array(100_000).fill(1)]], utf8('z')],
    ];
    for (const sample of samples) {
      assert.deepEqual(Buffer.from(deepHash(sample)), Buffer.from(await arDeepHash(sample)));
    }
  });
});
