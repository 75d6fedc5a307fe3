import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bundleAndSignData, DataItem as ArDataItem, unbundleData } from '@dha-team/arbundles';
import { InvalidInputError } from '../errors.ts';
import { declaresBundle, encodeBundle, readBundleHeader, unbundle } from './bundle.ts';
import { createDataItem, parseDataItem } from './data-item.ts';
import { ed25519Signer, ethereumSigner } from './signers.ts';

const isMalformed = (error: unknown): boolean => error instanceof InvalidInputError && error.code === 'ANS104_MALFORMED';

async function sampleItems() {
  return [
    await createDataItem({ signer: ed25519Signer(new Uint8Array(32).fill(3)), tags: [{ name: 'A', value: 'b' }], data: 'one' }),
    await createDataItem({ signer: ethereumSigner(`0x${'07'.repeat(32)}`), data: new Uint8Array(1000).fill(5) }),
    await createDataItem({ signer: ed25519Signer(new Uint8Array(32).fill(4)) }),
  ];
}

describe('bundles', () => {
  it('encodes the same bytes as arbundles and reads their headers', async () => {
    const items = await sampleItems();
    const ours = encodeBundle(items.map((item) => item.raw));
    const theirs = await bundleAndSignData(
      items.map((item) => {
        const ar = new ArDataItem(Buffer.from(item.raw));
        ar.rawId = Buffer.from(item.id, 'base64url');
        return ar;
      }),
      undefined as never,
    );
    assert.deepEqual(Buffer.from(ours), theirs.getRaw());
    const entries = readBundleHeader(ours);
    assert.deepEqual(entries.map((entry) => entry.id), unbundleData(Buffer.from(ours)).getIds());
    for (const [i, entry] of entries.entries()) {
      const item = parseDataItem(ours.subarray(entry.offset, entry.offset + entry.size));
      assert.equal(item.id, items[i]!.id);
      assert.equal(entry.id, items[i]!.id);
    }
  });

  it('handles an empty bundle', () => {
    const empty = encodeBundle([]);
    assert.equal(empty.byteLength, 32);
    assert.deepEqual(readBundleHeader(empty), []);
  });

  it('refuses malformed bundles and items without a signature', async () => {
    const items = await sampleItems();
    const bundle = encodeBundle(items.map((item) => item.raw));
    const withCount = (count: number) => {
      const copy = bundle.slice();
      copy[0] = count;
      return copy;
    };
    const hugeSize = bundle.slice();
    hugeSize[32 + 20] = 1;
    const cases = [bundle.subarray(0, 31), bundle.subarray(0, bundle.length - 1), withCount(200), withCount(4), hugeSize];
    for (const bytes of cases) assert.throws(() => readBundleHeader(bytes), isMalformed);
    assert.throws(() => encodeBundle([new Uint8Array([2, 0, 1])]), isMalformed);
    assert.throws(() => encodeBundle([new Uint8Array([99, 0])]), isMalformed);
  });

  it('recognises the nested-bundle tags exactly', () => {
    const format = { name: 'Bundle-Format', value: 'binary' };
    const version = { name: 'Bundle-Version', value: '2.0.0' };
    assert.equal(declaresBundle([format, version]), true);
    assert.equal(declaresBundle([{ name: 'Other', value: 'x' }, version, format]), true);
    assert.equal(declaresBundle([format]), false);
    assert.equal(declaresBundle([format, { ...version, value: '1.0.0' }]), false);
    assert.equal(declaresBundle([{ ...format, value: 'json' }, version]), false);
    assert.equal(declaresBundle([{ ...format, name: 'bundle-format' }, version]), false);
  });

  it('unbundles items in order, checking each against its header entry', async () => {
    const items = await sampleItems();
    const bytes = encodeBundle(items.map((item) => item.raw));
    const { entries, items: parsed } = unbundle(bytes);
    assert.deepEqual(parsed.map((item) => item.id), items.map((item) => item.id));
    assert.deepEqual(entries.map((entry) => entry.size), items.map((item) => item.raw.length));
    assert.deepEqual(unbundle(encodeBundle([])).items, []);

    const misnamed = bytes.slice();
    misnamed[32 + 64 + 32]! ^= 1;
    assert.throws(() => unbundle(misnamed), (error: unknown) => isMalformed(error) && /item 1 is/.test(String((error as Error).message)));
    // An item whose own layout is broken: a tag count that does not match its tag bytes.
    const broken = bytes.slice();
    const second = readBundleHeader(bytes)[1]!;
    const tagCountAt = second.offset + 2 + 65 + 65 + 1 + 1;
    broken[tagCountAt] = 9;
    assert.throws(() => unbundle(broken), (error: unknown) => {
      assert.ok(isMalformed(error));
      assert.match((error as Error).message, /Malformed item 1 of an ANS-104 bundle/);
      assert.equal((error as InvalidInputError).meta.index, 1);
      return true;
    });
  });
});
