import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { encodeBundle, ethereumSigner } from '../protocol/ans104/index.ts';
import type { DataItem } from '../protocol/ans104/types.ts';
import { isLevityError } from '../protocol/errors.ts';
import { dirBundleStorage } from './bundle-storage.ts';
import { createGateway } from './gateway-node.ts';
import { createGatewayService } from './gateway-service.ts';
import type { GatewayService, GatewayServiceOptions } from './gateway-service.ts';
import { manualChain, signedBundle, signedItem, silentLog, tempDir, testSigner } from './testing.ts';

const hasCode = (code: string) => (error: unknown) => isLevityError(error) && error.code === code;
type Node = { id: string; tags: { name: string; value: string }[]; bundledIn: { id: string } | null; parent: { id: string } | null };
type Connection = { edges: { node: Node }[] };
const BUNDLE_TAGS = [
  { name: 'Bundle-Format', value: 'binary' },
  { name: 'Bundle-Version', value: '2.0.0' },
];

/** Items of a few signers and types, each with a Seq tag; `data` says which. */
async function children(n: number, run = 'r'): Promise<DataItem[]> {
  const eth = ethereumSigner(`0x${'07'.repeat(32)}`);
  return Promise.all(
    Array.from({ length: n }, (_, seq) =>
      signedItem({
        signer: seq % 5 === 4 ? eth : testSigner(seq % 3),
        tags: [
          { name: 'Run', value: run },
          { name: 'Seq', value: String(seq) },
          { name: 'Content-Type', value: 'text/plain' },
        ],
        data: `child ${seq}`,
      }),
    ),
  );
}

describe('nested ANS-104 bundles', () => {
  let dir: string;
  let storage: ReturnType<typeof dirBundleStorage>;
  let service: GatewayService;
  const chain = manualChain(7);
  const open = (options: Partial<GatewayServiceOptions> = {}) =>
    createGatewayService({ dataDir: join(dir, 'node'), bundleIntervalMs: 60_000, blockInfoTtlMs: 0, ...options }, { storage, blockInfo: chain.blockInfo, log: silentLog });
  const gql = async (query: string, variables?: object) => {
    const response = JSON.parse(JSON.stringify(await service.graphql(query, variables))) as { data?: { transactions: Connection }; errors?: unknown };
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    return response.data!.transactions.edges.map((edge) => edge.node);
  };
  const NODE = 'id tags { name value } bundledIn { id } parent { id }';

  beforeEach(async () => {
    dir = await tempDir();
    storage = dirBundleStorage(join(dir, 'remote'));
    service = open();
  });
  afterEach(async () => {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('indexes the outer item and every nested one in one commit; all are queryable and servable', async () => {
    const inner = await children(12);
    const outer = await signedBundle(
      inner.map((item) => item.raw),
      { signer: testSigner(7), tags: [{ name: 'Outer', value: 'yes' }] },
    );
    assert.deepEqual(await service.ingest(outer.raw), { id: outer.id, duplicate: false, nested: 12 });
    assert.equal(service.stats().items, 13);
    assert.equal(service.stats().pendingItems, 1, 'the nested items live inside the outer item’s bytes');

    const bySeq = await gql(`query($s: [String!]!) { transactions(tags: [{name: "Run", values: ["r"]}, {name: "Seq", values: $s}]) { edges { node { ${NODE} } } } }`, { s: ['3'] });
    assert.deepEqual(bySeq.map((node) => node.id), [inner[3]!.id]);
    assert.deepEqual(bySeq[0]!.bundledIn, { id: outer.id });
    assert.deepEqual(bySeq[0]!.parent, { id: outer.id });
    const contents = await gql(`query($b: [ID!]) { transactions(bundledIn: $b, sort: HEIGHT_ASC, first: 100) { edges { node { ${NODE} } } } }`, { b: [outer.id] });
    assert.deepEqual(contents.map((node) => node.id), inner.map((item) => item.id));
    const ids = await gql(`query($ids: [ID!]) { transactions(ids: $ids) { edges { node { ${NODE} } } } }`, { ids: [outer.id, inner[4]!.id] });
    assert.deepEqual(ids.map((node) => node.id).sort(), [outer.id, inner[4]!.id].sort());
    assert.equal(ids.find((node) => node.id === outer.id)!.bundledIn, null);

    const readAll = async () => {
      for (const [seq, item] of inner.entries()) {
        assert.deepEqual(await service.rawItem(item.id), item.raw);
        const data = await service.itemData(item.id);
        assert.equal(new TextDecoder().decode(data.data), `child ${seq}`);
        assert.equal(data.contentType, 'text/plain');
      }
      assert.deepEqual(await service.rawItem(outer.id), outer.raw);
    };
    await readAll();
    const meta = service.itemMeta(inner[4]!.id);
    assert.equal(meta.parent, outer.id);
    assert.match(meta.owner.address, /^0x[0-9a-fA-F]{40}$/);
    assert.equal(meta.bundle, null);

    // Once bundled into storage, and with the local copy gone, the nested bytes come from there.
    await service.flush();
    assert.equal(service.stats().pendingItems, 0);
    const placed = service.itemMeta(inner[2]!.id).bundle!;
    assert.equal(placed.id, service.itemMeta(outer.id).bundle!.id);
    assert.equal(placed.size, inner[2]!.raw.length);
    await rm(join(dir, 'node', 'bundles'), { recursive: true });
    await readAll();
    assert.equal(storage.gets, 1);

    // A restart keeps all of it.
    await service.close();
    service = open();
    assert.equal(service.stats().items, 13);
    assert.deepEqual((await gql(`query($b: [ID!]) { transactions(bundledIn: $b, first: 100) { edges { node { id } } } }`, { b: [outer.id] })).length, 12);
    await readAll();
  });

  it('refuses the whole bundle when any nested item is forged or malformed, and stores nothing', async () => {
    const inner = await children(6);
    const forged = inner.map((item) => item.raw);
    const tampered = Uint8Array.from(forged[4]!);
    tampered[tampered.length - 1]! ^= 1;
    forged[4] = tampered;
    const bad = await signedBundle(forged);
    await assert.rejects(service.ingest(bad.raw), (error: unknown) => {
      assert.ok(hasCode('GATEWAY_BAD_SIGNATURE')(error));
      assert.match((error as Error).message, /item 4 of bundle/);
      assert.equal((error as { meta: { index: number } }).meta.index, 4);
      return true;
    });

    // The header names an id the item does not have.
    const bytes = encodeBundle(inner.map((item) => item.raw));
    bytes.fill(0, 32 + 64 * 2 + 32, 32 + 64 * 3);
    const misnamed = await signedItem({ tags: BUNDLE_TAGS, data: bytes });
    await assert.rejects(service.ingest(misnamed.raw), (error: unknown) => hasCode('ANS104_MALFORMED')(error) && /item 2 is/.test((error as Error).message));

    // A nested item cut short, and data that is no bundle at all.
    const cut = await signedItem({ tags: BUNDLE_TAGS, data: encodeBundle([inner[0]!.raw, inner[1]!.raw.subarray(0, 75)]) });
    await assert.rejects(service.ingest(cut.raw), (error: unknown) => hasCode('ANS104_MALFORMED')(error) && /item 1 of an ANS-104 bundle/.test((error as Error).message));
    const notBundle = await signedItem({ tags: BUNDLE_TAGS, data: 'hello' });
    await assert.rejects(service.ingest(notBundle.raw), (error: unknown) => hasCode('ANS104_MALFORMED')(error) && /tagged as an ANS-104 bundle/.test((error as Error).message));
    // A forged outer signature is refused before any nested item is looked at.
    const outerForged = Uint8Array.from((await signedBundle(inner.map((item) => item.raw))).raw);
    outerForged[outerForged.length - 1]! ^= 1;
    await assert.rejects(service.ingest(outerForged), hasCode('GATEWAY_BAD_SIGNATURE'));

    assert.equal(service.stats().items, 0);
    for (const item of inner) assert.throws(() => service.itemMeta(item.id), hasCode('GATEWAY_ITEM_NOT_FOUND'));

    // Another version or format is an ordinary item: nothing in it is unpacked.
    const other = await signedItem({ tags: [{ name: 'Bundle-Format', value: 'json' }, { name: 'Bundle-Version', value: '1.0.0' }], data: bytes });
    assert.deepEqual(await service.ingest(other.raw), { id: other.id, duplicate: false });
    assert.equal(service.stats().items, 1);
  });

  it('acknowledges a repeated bundle as a duplicate and keeps nested items it already had', async () => {
    const inner = await children(5);
    assert.equal((await service.ingest(inner[1]!.raw)).duplicate, false);
    const outer = await signedBundle([...inner.map((item) => item.raw), inner[2]!.raw]);
    assert.deepEqual(await service.ingest(outer.raw), { id: outer.id, duplicate: false, nested: 6 });
    assert.equal(service.stats().items, 1 + 1 + 4, 'one known before, the outer, four new (one twice)');
    assert.equal(service.itemMeta(inner[1]!.id).parent, null, 'the item posted first keeps its own row');
    assert.equal(service.itemMeta(inner[2]!.id).parent, outer.id);
    assert.deepEqual(await service.ingest(outer.raw), { id: outer.id, duplicate: true });
    const again = await Promise.all([service.ingest(outer.raw), service.ingest(outer.raw)]);
    assert.ok(again.every((result) => result.duplicate));
    assert.equal(service.stats().items, 6);
    assert.deepEqual(await service.ingest(inner[3]!.raw), { id: inner[3]!.id, duplicate: true });
    // An empty bundle is a bundle of nothing.
    const empty = await signedBundle([]);
    assert.deepEqual(await service.ingest(empty.raw), { id: empty.id, duplicate: false, nested: 0 });
  });

  it('takes bundles over POST /tx, refuses oversized ones with 413, and serves nested items by id', async () => {
    const gateway = createGateway({
      dataDir: join(dir, 'http'),
      host: '127.0.0.1',
      port: 0,
      log: silentLog,
      storage,
      blockInfo: chain.blockInfo,
      bundleIntervalMs: 60_000,
      maxItemBytes: 16 * 1024,
    });
    await gateway.start();
    try {
      const post = (raw: Uint8Array) => fetch(`${gateway.url}/tx`, { method: 'POST', body: raw as Uint8Array<ArrayBuffer> });
      const inner = await children(20, 'http');
      const outer = await signedBundle(inner.map((item) => item.raw));
      const posted = await post(outer.raw);
      assert.equal(posted.status, 200);
      assert.deepEqual(await posted.json(), { id: outer.id, nested: 20 });
      assert.equal(await (await fetch(`${gateway.url}/${inner[7]!.id}`)).text(), 'child 7');
      assert.equal((await fetch(`${gateway.url}/raw/${inner[7]!.id}`)).headers.get('content-type'), 'text/plain');
      const meta = (await (await fetch(`${gateway.url}/tx/${inner[7]!.id}`)).json()) as { parent: string };
      assert.equal(meta.parent, outer.id);

      const big = await signedBundle((await children(60, 'big')).map((item) => item.raw).concat([(await signedItem({ data: new Uint8Array(12 * 1024) })).raw]));
      const refused = await post(big.raw);
      assert.equal(refused.status, 413);
      assert.equal(((await refused.json()) as { error: { code: string } }).error.code, 'GATEWAY_TOO_LARGE');

      const forged = inner.map((item) => item.raw);
      forged[0] = Uint8Array.from(forged[0]!);
      forged[0][forged[0].length - 1]! ^= 1;
      const rejected = await post((await signedBundle(forged)).raw);
      assert.equal(rejected.status, 400);
      assert.equal(((await rejected.json()) as { error: { code: string } }).error.code, 'GATEWAY_BAD_SIGNATURE');
    } finally {
      await gateway.stop();
    }
  });
});
