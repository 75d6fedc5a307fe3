import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createData, Curve25519, DataItem as ArDataItem } from '@dha-team/arbundles';
import { InvalidInputError } from '../errors.ts';
import { toB64Url } from './base64url.ts';
import { createDataItem, MAX_TAG_BYTES, parseDataItem, serializeUnsigned, signatureMessage } from './data-item.ts';
import { ed25519Signer, ethereumSigner } from './signers.ts';
import { verifyDataItem } from './verify.ts';
import type { DataItemSigner, Tag } from './types.ts';

const withCode = (code: string) => (error: unknown) => error instanceof InvalidInputError && error.code === code;
const isMalformed = withCode('ANS104_MALFORMED');

/** arbundles' own ed25519 signer (@noble/ed25519), fed a raw seed. */
class ArEd25519 extends Curve25519 {
  readonly #seed: Buffer;
  readonly #pub: Buffer;
  constructor(seed: Uint8Array, pub: Uint8Array) {
    super('', '');
    this.#seed = Buffer.from(seed);
    this.#pub = Buffer.from(pub);
  }
  override get key(): Uint8Array {
    return this.#seed;
  }
  override get publicKey(): Buffer {
    return this.#pub;
  }
}

const seed = new Uint8Array(32).map((_, i) => i + 1);
const signer = ed25519Signer(seed);
const target = toB64Url(new Uint8Array(32).fill(9));
const anchor = 'ANCHOR-0123456789-0123456789-012';
const tags: Tag[] = [
  { name: 'Data-Protocol', value: 'ao' },
  { name: 'Type', value: 'Message' },
  { name: 'Ünï', value: '😀' },
  { name: 'Empty', value: '' },
];

describe('createDataItem / parseDataItem', () => {
  it('produces the exact bytes arbundles produces for the same ed25519 key and fields', async () => {
    const ours = await createDataItem({ signer, target, anchor, tags, data: 'hello' });
    const arSigner = new ArEd25519(seed, signer.publicKey);
    const theirs = createData('hello', arSigner, { target, anchor, tags });
    await theirs.sign(arSigner);
    assert.deepEqual(Buffer.from(ours.raw), theirs.getRaw());
    assert.equal(ours.id, theirs.id);
    assert.equal(await ArDataItem.verify(Buffer.from(ours.raw)), true);
    assert.equal(verifyDataItem(parseDataItem(new Uint8Array(theirs.getRaw()))), true);
  });

  it('parses every field as a view into the raw bytes', async () => {
    const item = await createDataItem({ signer, target, anchor, tags, data: new Uint8Array([1, 2, 3]) });
    const parsed = parseDataItem(item.raw);
    assert.equal(parsed.signatureType, 2);
    assert.equal(parsed.signature.byteLength, 64);
    assert.deepEqual(parsed.owner, signer.publicKey);
    assert.equal(toB64Url(parsed.target!), target);
    assert.equal(Buffer.from(parsed.anchor!).toString(), anchor);
    assert.deepEqual(parsed.tags, tags);
    assert.deepEqual([...parsed.data], [1, 2, 3]);
    for (const field of [parsed.signature, parsed.owner, parsed.target!, parsed.anchor!, parsed.rawTags, parsed.data]) {
      assert.equal(field.buffer, item.raw.buffer);
    }
    assert.equal(parsed.id, item.id);
    assert.equal(parsed.id.length, 43);
  });

  it('computes the signed message as arbundles does, with and without optional fields', async () => {
    for (const params of [{}, { target }, { anchor }, { tags }, { target, anchor, tags, data: 'x'.repeat(10_000) }]) {
      const item = await createDataItem({ signer, ...params });
      assert.equal(item.target === undefined, params.target === undefined);
      const theirs = new ArDataItem(Buffer.from(item.raw));
      assert.deepEqual(Buffer.from(signatureMessage(item)), Buffer.from(await theirs.getSignatureData()));
    }
  });

  it('treats an empty target or anchor as absent, as arbundles does', async () => {
    const item = await createDataItem({ signer, target: '', anchor: '' });
    assert.equal(item.target, undefined);
    assert.equal(item.anchor, undefined);
  });

  it('refuses bad fields with typed errors', async () => {
    await assert.rejects(createDataItem({ signer, anchor: 'short' }), withCode('ANS104_BAD_ANCHOR'));
    await assert.rejects(createDataItem({ signer, anchor: 'é'.repeat(32) }), withCode('ANS104_BAD_ANCHOR'));
    await assert.rejects(createDataItem({ signer, target: 'not-an-id' }), withCode('ANS104_BAD_TARGET'));
    await assert.rejects(createDataItem({ signer, target: `${target}A` }), withCode('ANS104_BAD_TARGET'));
    const bigTags = [{ name: 'Big', value: 'x'.repeat(MAX_TAG_BYTES) }];
    await assert.rejects(createDataItem({ signer, tags: bigTags }), withCode('ANS104_TAGS_TOO_LARGE'));
    const wrongOwner: DataItemSigner = { ...signer, publicKey: new Uint8Array(31) };
    await assert.rejects(createDataItem({ signer: wrongOwner }), withCode('ANS104_BAD_OWNER'));
    const shortSig: DataItemSigner = { ...signer, sign: () => new Uint8Array(63) };
    await assert.rejects(createDataItem({ signer: shortSig }), withCode('ANS104_BAD_SIGNATURE'));
    const unknown: DataItemSigner = { ...signer, signatureType: 9 };
    await assert.rejects(createDataItem({ signer: unknown }), withCode('ANS104_UNKNOWN_SIGNATURE_TYPE'));
  });

  it('accepts async signers (secp256k1 here)', async () => {
    const eth = ethereumSigner(`0x${'11'.repeat(32)}`);
    const asyncSigner: DataItemSigner = { ...eth, sign: async (message) => eth.sign(message) };
    const item = await createDataItem({ signer: asyncSigner, tags, data: 'eth' });
    assert.equal(item.signatureType, 3);
    assert.equal(verifyDataItem(item), true);
  });
});

describe('parseDataItem on malformed input', () => {
  const fixture = async () => createDataItem({ signer, target, anchor, tags, data: 'payload' });

  it('refuses every truncation that cuts into the header or tags, never with a RangeError', async () => {
    const item = await fixture();
    const dataStart = item.raw.byteLength - item.data.byteLength;
    for (let length = 0; length < item.raw.byteLength; length++) {
      const cut = item.raw.slice(0, length);
      if (length < dataStart) assert.throws(() => parseDataItem(cut), isMalformed, `length ${length}`);
      else assert.equal(verifyDataItem(parseDataItem(cut)), false);
    }
  });

  it('refuses unknown signature types, bad flags, tag count mismatches and huge tag fields', async () => {
    const item = await fixture();
    const flagAt = 2 + 64 + 32;
    const tagHeaderAt = flagAt + 33 + 33;
    const mutate = (change: (bytes: Uint8Array, view: DataView) => void): Uint8Array => {
      const copy = item.raw.slice();
      change(copy, new DataView(copy.buffer));
      return copy;
    };
    const cases: Record<string, Uint8Array> = {
      'type 0': mutate((_, v) => v.setUint16(0, 0, true)),
      'type 8': mutate((_, v) => v.setUint16(0, 8, true)),
      'type 65535': mutate((_, v) => v.setUint16(0, 0xffff, true)),
      'target flag 2': mutate((b) => (b[flagAt] = 2)),
      'anchor flag 255': mutate((b) => (b[flagAt + 33] = 255)),
      'tag count too small': mutate((_, v) => v.setBigUint64(tagHeaderAt, 3n, true)),
      'tag count too big': mutate((_, v) => v.setBigUint64(tagHeaderAt, 5n, true)),
      'tag count 2^60': mutate((_, v) => v.setBigUint64(tagHeaderAt, 2n ** 60n, true)),
      'tag count 2^32': mutate((_, v) => v.setBigUint64(tagHeaderAt, 2n ** 32n, true)),
      'tag bytes 4097': mutate((_, v) => v.setBigUint64(tagHeaderAt + 8, 4097n, true)),
      'tag bytes 2^63': mutate((_, v) => v.setBigUint64(tagHeaderAt + 8, 2n ** 63n, true)),
      'tag bytes past the end': mutate((_, v) => v.setBigUint64(tagHeaderAt + 8, 2000n, true)),
      'tag bytes one short': mutate((_, v) => v.setBigUint64(tagHeaderAt + 8, BigInt(item.rawTags.byteLength - 1), true)),
      'fewer than 80 bytes': item.raw.slice(0, 79),
      'empty': new Uint8Array(0),
    };
    for (const [name, bytes] of Object.entries(cases)) assert.throws(() => parseDataItem(bytes), isMalformed, name);
  });

  it('explains what was wrong in the error details', () => {
    const bytes = new Uint8Array(100);
    bytes[0] = 42;
    assert.throws(() => parseDataItem(bytes), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.match(error.details ?? '', /unknown signature type 42/);
      return true;
    });
  });

  it('survives random mutations and random bytes with only typed errors', async () => {
    const item = await fixture();
    let seedState = 12345;
    const rand = (n: number): number => {
      seedState = (seedState * 1103515245 + 12345) >>> 0;
      return seedState % n;
    };
    for (let round = 0; round < 3000; round++) {
      const copy = item.raw.slice();
      for (let k = 0; k < 1 + rand(4); k++) copy[rand(copy.length)] = rand(256);
      try {
        const parsed = parseDataItem(copy);
        verifyDataItem(parsed);
      } catch (error) {
        assert.ok(isMalformed(error), String(error));
      }
    }
    for (let round = 0; round < 500; round++) {
      const bytes = new Uint8Array(randomBytes(rand(400)));
      bytes[0] = [1, 2, 3, 4, 5, 6, 7, 101][rand(8)]!;
      bytes[1] = 0;
      try {
        parseDataItem(bytes);
      } catch (error) {
        assert.ok(isMalformed(error), String(error));
      }
    }
  });

  it('parses items of the types it cannot verify (layout only)', () => {
    const { raw } = serializeUnsigned({ signatureType: 6, owner: new Uint8Array(1025), tags, data: new Uint8Array(5) });
    const item = parseDataItem(raw);
    assert.equal(item.signature.byteLength, 2052);
    assert.deepEqual(item.tags, tags);
    assert.equal(verifyDataItem(item), false);
  });
});
