import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, createPrivateKey, generateKeyPairSync, randomBytes, sign as cryptoSign } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ArweaveSigner, createData, DataItem as ArDataItem, EthereumSigner, HexInjectedSolanaSigner } from '@dha-team/arbundles';
import { toB64Url } from './base64url.ts';
import { createDataItem, parseDataItem, serializeUnsigned, signatureMessage } from './data-item.ts';
import { ed25519Signer, ethereumSigner, rsaSigner } from './signers.ts';
import type { RsaJwk } from './signers.ts';
import { verifyDataItem, verifyDataItemAsync, verifySignature, verifySignatureAsync } from './verify.ts';
import type { DataItem, Tag } from './types.ts';

// One 4096-bit key for the whole file: generating it takes seconds.
const jwk = generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey.export({ format: 'jwk' }) as RsaJwk;

const target = toB64Url(new Uint8Array(randomBytes(32)));
const anchor = 'a'.repeat(32);
const tags: Tag[] = [
  { name: 'Data-Protocol', value: 'ao' },
  { name: 'Type', value: 'Message' },
  { name: 'Name', value: 'ñ 名前 😀' },
  { name: 'Empty', value: '' },
];

/** arweave-js warns on every failed verify; keep the test output readable. */
const quiet: Partial<Record<'log' | 'warn', typeof console.log>> = {};
before(() => {
  for (const level of ['log', 'warn'] as const) {
    quiet[level] = console[level];
    console[level] = () => undefined;
  }
});
after(() => {
  for (const level of ['log', 'warn'] as const) console[level] = quiet[level]!;
});

const arbundlesVerify = (raw: Uint8Array): Promise<boolean> => ArDataItem.verify(Buffer.from(raw));

/** Copies of the item with one bit flipped in the signature, owner, anchor, tags and data, each still parseable. */
function tampered(item: DataItem): Uint8Array[] {
  const fields = [item.signature, item.owner, item.anchor, item.rawTags, item.data].filter(
    (field): field is Uint8Array => field !== undefined && field.byteLength > 0,
  );
  return fields.map((field) => {
    const start = field.byteOffset - item.raw.byteOffset;
    // Most bytes of a field will do; in the tags, skip the ones whose change breaks the Avro layout.
    for (let at = start + (field.byteLength >> 1); at < start + field.byteLength; at++) {
      const copy = item.raw.slice();
      copy[at]! ^= 0x01;
      try {
        parseDataItem(copy);
        return copy;
      } catch {
        continue;
      }
    }
    throw new Error('no parseable single-bit change in this field');
  });
}

function assertTamperingFails(item: DataItem): void {
  for (const copy of tampered(item)) assert.equal(verifyDataItem(parseDataItem(copy)), false);
}

describe('RSA-4096 (type 1)', () => {
  it('verifies items arbundles signs, with the same id', async () => {
    const arSigner = new ArweaveSigner(jwk);
    const theirs = createData('hello from arbundles', arSigner, { target, anchor, tags });
    await theirs.sign(arSigner);
    const item = parseDataItem(new Uint8Array(theirs.getRaw()));
    assert.equal(item.id, theirs.id);
    assert.equal(item.signatureType, 1);
    assert.deepEqual(item.tags, tags);
    assert.equal(verifyDataItem(item), true);
    assertTamperingFails(item);
  });

  it('signs items arbundles verifies', async () => {
    const item = await createDataItem({ signer: rsaSigner(jwk), target, anchor, tags, data: 'hello from levity' });
    assert.equal(toB64Url(item.owner), jwk.n);
    assert.equal(await arbundlesVerify(item.raw), true);
    assert.equal(verifyDataItem(item), true);
    for (const copy of tampered(item)) assert.equal(await arbundlesVerify(copy), false);
  });

  it('refuses keys that cannot make Arweave items', () => {
    assert.throws(() => rsaSigner({ ...jwk, d: undefined }), { code: 'ANS104_BAD_KEY' });
    assert.throws(() => rsaSigner({ ...jwk, e: 'Aw' }), { code: 'ANS104_BAD_KEY' });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'jwk' }) as RsaJwk;
    assert.throws(() => rsaSigner(small), { code: 'ANS104_BAD_KEY' });
  });

  it('accepts any PSS salt length (WebCrypto signers use 32, Node the maximum)', async () => {
    const key = createPrivateKey({ key: jwk, format: 'jwk' });
    for (const saltLength of [0, 32, 478]) {
      const pss: typeof rsaSigner = (j) => ({
        ...rsaSigner(j),
        sign: (message: Uint8Array) =>
          new Uint8Array(cryptoSign('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength })),
      });
      const item = await createDataItem({ signer: pss(jwk), tags, data: `salt ${saltLength}` });
      assert.equal(verifyDataItem(item), true, `salt ${saltLength}`);
    }
  });
});

describe('Ethereum secp256k1 (type 3)', () => {
  const privateKey = new Uint8Array(randomBytes(32));
  const hexKey = `0x${Buffer.from(privateKey).toString('hex')}` as const;

  it('signs the EIP-191 message exactly as arbundles EthereumSigner (same bytes, same 65-byte owner)', async () => {
    const arSigner = new EthereumSigner(hexKey);
    const theirs = createData('eth', arSigner, { target, tags });
    await theirs.sign(arSigner);
    const ours = await createDataItem({ signer: ethereumSigner(privateKey), target, tags, data: 'eth' });
    assert.deepEqual(Buffer.from(ours.raw), theirs.getRaw());
    assert.equal(ours.owner.byteLength, 65);
    assert.equal(ours.owner[0], 0x04);
    assert.ok([27, 28].includes(ours.signature[64]!));
    assert.equal(await arbundlesVerify(ours.raw), true);
    assert.equal(verifyDataItem(parseDataItem(new Uint8Array(theirs.getRaw()))), true);
    assertTamperingFails(ours);
  });

  it('accepts hex and byte keys alike and refuses bad ones', () => {
    assert.deepEqual(ethereumSigner(hexKey).publicKey, ethereumSigner(privateKey).publicKey);
    for (const bad of [new Uint8Array(31), new Uint8Array(32), '0x1234' as const]) {
      assert.throws(() => ethereumSigner(bad), { code: 'ANS104_BAD_KEY' });
    }
  });

  it('refuses high-s signatures as libsecp256k1 (and so arbundles) does', async () => {
    const item = await createDataItem({ signer: ethereumSigner(privateKey), tags, data: 'malleable' });
    const sig = secp256k1.Signature.fromBytes(item.signature.subarray(0, 64), 'compact');
    const highS = new secp256k1.Signature(sig.r, secp256k1.Point.CURVE().n - sig.s).toBytes('compact');
    const copy = item.raw.slice();
    copy.set(highS, 2);
    copy[2 + 64] = item.signature[64] === 27 ? 28 : 27;
    assert.equal(verifyDataItem(parseDataItem(copy)), false);
    assert.equal(await arbundlesVerify(copy), false);
  });
});

describe('ed25519 (types 2 and 4)', () => {
  const seed = new Uint8Array(randomBytes(32));
  const signer = ed25519Signer(seed);

  it('type 2 round-trips with arbundles', async () => {
    const item = await createDataItem({ signer, target, anchor, tags, data: 'ed' });
    assert.equal(await arbundlesVerify(item.raw), true);
    assert.equal(verifyDataItem(item), true);
    assertTamperingFails(item);
  });

  it('type 4 verifies over the hex of the deep hash, as arbundles HexInjectedSolanaSigner signs', async () => {
    const provider = {
      publicKey: { toBuffer: () => Buffer.from(signer.publicKey) },
      signMessage: async (message: Uint8Array) => signer.sign(message),
    };
    const arSigner = new HexInjectedSolanaSigner(provider);
    const theirs = createData('solana', arSigner, { tags });
    await theirs.sign(arSigner);
    const item = parseDataItem(new Uint8Array(theirs.getRaw()));
    assert.equal(item.signatureType, 4);
    assert.equal(verifyDataItem(item), true);
    assertTamperingFails(item);
    // Signing the raw deep hash is not what type 4 means.
    const rawSigned = serializeUnsigned({ signatureType: 4, owner: signer.publicKey, tags });
    rawSigned.raw.set(await signer.sign(rawSigned.message), 2);
    assert.equal(verifyDataItem(parseDataItem(rawSigned.raw)), false);
  });

  it('keeps verifying correctly past the key cache size', async () => {
    const items = await Promise.all(
      Array.from({ length: 1100 }, (_, i) => createDataItem({ signer: ed25519Signer(new Uint8Array(32).fill(i % 256).map((b, j) => (j === 0 ? i >> 8 : b))), data: String(i) })),
    );
    for (const item of items) assert.equal(verifyDataItem(item), true);
    assert.equal(verifyDataItem(items[0]!), true);
    assert.equal(verifyDataItem({ ...items[0]!, owner: items[1]!.owner }), false);
  });
});

describe('verifySignature', () => {
  it('reports unsupported types and wrong sizes as not verified', async () => {
    const item = await createDataItem({ signer: ed25519Signer(new Uint8Array(32)), data: 'x' });
    const message = signatureMessage(item);
    assert.equal(verifySignature(2, item.owner, message, item.signature), true);
    assert.equal(verifySignature(5, item.owner, message, item.signature), false);
    assert.equal(verifySignature(7, new Uint8Array(42), message, new Uint8Array(65)), false);
    assert.equal(verifySignature(2, item.owner.subarray(1), message, item.signature), false);
    assert.equal(verifySignature(1, new Uint8Array(512), message, new Uint8Array(512)), false);
    assert.equal(verifySignature(3, new Uint8Array(65), message, new Uint8Array(65)), false);
  });
});

describe('verifySignatureAsync', () => {
  it('agrees with verifySignature for every supported type, good and tampered, many at once', async () => {
    const ed = ed25519Signer(new Uint8Array(32).fill(9));
    const solana = serializeUnsigned({ signatureType: 4, owner: ed.publicKey, tags });
    solana.raw.set(await ed.sign(Buffer.from(Buffer.from(solana.message).toString('hex'), 'ascii')), 2);
    const items = [
      await createDataItem({ signer: rsaSigner(jwk), target, anchor, tags, data: 'rsa' }),
      await createDataItem({ signer: ed, target, anchor, tags, data: 'ed' }),
      await createDataItem({ signer: ethereumSigner(new Uint8Array(32).fill(7)), tags, data: 'eth' }),
      parseDataItem(solana.raw),
    ];
    const all = items.flatMap((item) => [item, ...tampered(item).map((copy) => parseDataItem(copy))]);
    const sync = all.map((item) => verifyDataItem(item));
    assert.equal(sync[0], true);
    assert.equal(sync.filter(Boolean).length, items.length);
    assert.deepEqual(await Promise.all(all.map((item) => verifyDataItemAsync(item))), sync);
  });

  it('reports unsupported types, wrong sizes and unusable keys as not verified', async () => {
    const item = await createDataItem({ signer: ed25519Signer(new Uint8Array(32)), data: 'x' });
    const message = signatureMessage(item);
    assert.equal(await verifySignatureAsync(2, item.owner, message, item.signature), true);
    assert.equal(await verifySignatureAsync(5, item.owner, message, item.signature), false);
    assert.equal(await verifySignatureAsync(2, item.owner.subarray(1), message, item.signature), false);
    assert.equal(await verifySignatureAsync(1, new Uint8Array(512), message, new Uint8Array(512)), false);
    assert.equal(await verifySignatureAsync(3, new Uint8Array(65), message, new Uint8Array(65)), false);
  });
});
