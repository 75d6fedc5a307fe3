import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { readBundleHeader } from '../protocol/ans104/index.ts';
import { isLevityError } from '../protocol/errors.ts';
import { dirBundleStorage } from './bundle-storage.ts';
import { createGatewayService } from './gateway-service.ts';
import type { GatewayService, GatewayServiceOptions } from './gateway-service.ts';
import type { GraphqlResponse } from './graphql-schema.ts';
import { AO_QUERIES, MODULE_TAGS, manualChain, signedItem, silentLog, tempDir, testSigner } from './testing.ts';

const hasCode = (code: string) => (error: unknown) => isLevityError(error) && error.code === code;
type Edges = { transactions: { edges: { node: Record<string, unknown> }[] } };

describe('createGatewayService', () => {
  let dir: string;
  let storage: ReturnType<typeof dirBundleStorage>;
  let chain: ReturnType<typeof manualChain>;
  let service: GatewayService;
  /** What an HTTP client sees: graphql-js builds null-prototype objects. */
  const gql = async (query: unknown, variables?: unknown) => JSON.parse(JSON.stringify(await service.graphql(query, variables))) as GraphqlResponse;
  const open = (options: Partial<GatewayServiceOptions> = {}) =>
    createGatewayService({ dataDir: join(dir, 'node'), bundleIntervalMs: 60_000, blockInfoTtlMs: 0, ...options }, { storage, blockInfo: chain.blockInfo, log: silentLog });

  beforeEach(async () => {
    dir = await tempDir();
    storage = dirBundleStorage(join(dir, 'remote'));
    chain = manualChain(5);
    service = open();
  });
  afterEach(async () => {
    await service.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('ingests a signed item once and acknowledges repeats as duplicates', async () => {
    const item = await signedItem({ tags: MODULE_TAGS, data: 'module bytes' });
    assert.deepEqual(await service.ingest(item.raw), { id: item.id, duplicate: false });
    assert.deepEqual(await service.ingest(item.raw), { id: item.id, duplicate: true });
    const concurrent = await Promise.all([service.ingest(item.raw), service.ingest(item.raw)]);
    assert.ok(concurrent.every((result) => result.duplicate));
    assert.equal(service.stats().items, 1);
    const data = await service.itemData(item.id);
    assert.equal(new TextDecoder().decode(data.data), 'module bytes');
    assert.equal(data.contentType, 'application/wasm');
    assert.deepEqual(await service.rawItem(item.id), item.raw);
  });

  it('refuses forged, truncated, oversized and unsigned input with typed errors', async () => {
    const item = await signedItem({ data: 'payload' });
    const forged = Uint8Array.from(item.raw);
    forged[forged.length - 1]! ^= 1;
    await assert.rejects(service.ingest(forged), hasCode('GATEWAY_BAD_SIGNATURE'));
    await assert.rejects(service.ingest(item.raw.subarray(0, 70)), hasCode('ANS104_MALFORMED'));
    await assert.rejects(service.ingest(new Uint8Array(0)), hasCode('ANS104_MALFORMED'));
    const unsigned = Uint8Array.from(item.raw);
    unsigned.fill(0, 2, 66);
    await assert.rejects(service.ingest(unsigned), hasCode('GATEWAY_BAD_SIGNATURE'));
    await service.close();
    service = open({ maxItemBytes: 1024 });
    const big = await signedItem({ data: new Uint8Array(2000) });
    await assert.rejects(service.ingest(big.raw), hasCode('GATEWAY_TOO_LARGE'));
    assert.equal(service.stats().items, 0);
  });

  it('ingests a batch all or nothing', async () => {
    const good = await Promise.all([1, 2, 3].map((n) => signedItem({ data: `item ${n}` })));
    const bad = Uint8Array.from(good[1]!.raw);
    bad[bad.length - 1]! ^= 1;
    await assert.rejects(service.ingestMany([good[0]!.raw, bad]), hasCode('GATEWAY_BAD_SIGNATURE'));
    assert.equal(service.stats().items, 0);
    const results = await service.ingestMany(good.map((item) => item.raw));
    assert.deepEqual(results.map((result) => result.id), good.map((item) => item.id));
  });

  it('shares one commit among concurrent ingests and loses none', async () => {
    const items = await Promise.all(Array.from({ length: 200 }, (_, n) => signedItem({ signer: testSigner(n % 3), data: `n${n}` })));
    const results = await Promise.all(items.map((item) => service.ingest(item.raw)));
    assert.equal(new Set(results.map((result) => result.id)).size, 200);
    assert.equal(service.stats().items, 200);
  });

  it('answers the AO clients’ queries verbatim', async () => {
    const module = await signedItem({ signer: testSigner(1), tags: MODULE_TAGS, data: 'wasm' });
    const su = testSigner(2);
    await service.ingest(module.raw);
    const location = await signedItem({
      signer: su,
      tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Variant', value: 'ao.TN.1' },
        { name: 'Type', value: 'Scheduler-Location' },
        { name: 'Url', value: 'http://127.0.0.1:1' },
        { name: 'Time-To-Live', value: '3600000' },
      ],
    });
    chain.set(6);
    await service.ingest(location.raw);
    const suAddress = service.itemMeta(location.id).owner.address;
    const processTags = [
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Type', value: 'Process' },
      { name: 'Module', value: module.id },
      { name: 'Scheduler', value: suAddress },
    ];
    const proc = await signedItem({ signer: testSigner(3), tags: processTags, anchor: 'a'.repeat(32) });
    chain.set(7);
    await service.ingest(proc.raw);

    const spawnCheck = await gql(AO_QUERIES.spawnModuleCheck, { transactionIds: [module.id] });
    const node = (spawnCheck.data as Edges).transactions.edges[0]!.node;
    assert.deepEqual(node.tags, MODULE_TAGS);
    assert.deepEqual(node.block, { id: 'block-5', height: 5, timestamp: chain.at(5).timestamp });
    assert.equal((node.owner as { address: string }).address, service.itemMeta(module.id).owner.address);

    const scheduler = await gql(AO_QUERIES.processScheduler, { transactionIds: [proc.id] });
    assert.deepEqual((scheduler.data as Edges).transactions.edges[0]!.node.tags, processTags);
    const notAo = await gql(AO_QUERIES.processScheduler, { transactionIds: [location.id.replace(/^./, 'A')] });
    assert.deepEqual((notAo.data as Edges).transactions.edges, []);

    const located = await gql(AO_QUERIES.schedulerLocation, { owner: suAddress });
    const tags = (located.data as Edges).transactions.edges[0]!.node.tags as { name: string; value: string }[];
    assert.equal(tags.find((tag) => tag.name === 'Url')?.value, 'http://127.0.0.1:1');

    const full = await gql(AO_QUERIES.getProcess, { ids: [proc.id] });
    assert.equal(full.errors, undefined);
    const connection = (full.data as { transactions: { pageInfo: unknown; edges: { cursor: string; node: Record<string, unknown> }[] } }).transactions;
    assert.deepEqual(connection.pageInfo, { hasNextPage: false });
    const got = connection.edges[0]!.node;
    assert.equal(got.id, proc.id);
    assert.equal(got.anchor, Buffer.from('a'.repeat(32)).toString('base64url'));
    assert.equal(got.recipient, '');
    assert.deepEqual(got.fee, { winston: '0', ar: '0.000000000000' });
    assert.deepEqual(got.data, { size: '1', type: null });
    assert.deepEqual(got.block, { id: 'block-7', timestamp: chain.at(7).timestamp, height: 7, previous: 'block-6' });
    assert.equal(got.parent, null);
    assert.equal((got.owner as { key: string }).key, Buffer.from(testSigner(3).publicKey).toString('base64url'));

    const skipping = await gql(AO_QUERIES.cuProcesses, { processIds: [proc.id], skipTags: true, skipSignature: false, skipAnchor: true });
    const skipped = (skipping.data as Edges).transactions.edges[0]!.node;
    assert.equal('tags' in skipped, false);
    assert.equal('anchor' in skipped, false);
    assert.equal(typeof skipped.signature, 'string');
    const blocks = await gql(AO_QUERIES.cuBlocks, { min: 6, limit: 1 });
    assert.deepEqual(blocks.data, { blocks: { pageInfo: { hasNextPage: true }, edges: [{ node: { timestamp: chain.at(6).timestamp, height: 6 } }] } });
  });

  it('reports bad GraphQL as errors, never as a crash', async () => {
    const parseError = await gql('query { transactions(');
    assert.equal('data' in parseError, false);
    assert.ok(parseError.errors?.length);
    const unknownField = await gql('{ transactions { edges { node { nope } } } }');
    assert.equal('data' in unknownField, false);
    const badVariables = await gql(AO_QUERIES.spawnModuleCheck, { transactionIds: [null] });
    assert.equal('data' in badVariables, false);
    const badCursor = await gql('{ transactions(after: "zzz") { edges { cursor } } }');
    assert.equal(badCursor.errors?.[0]?.extensions?.code, 'GATEWAY_BAD_CURSOR');
    assert.equal(badCursor.data, null);
    assert.ok((await gql(undefined)).errors);
    const huge = await gql('query($ids: [ID!]) { transactions(ids: $ids) { edges { cursor } } }', { ids: Array.from({ length: 40_000 }, (_, n) => String(n)) });
    assert.equal(huge.errors?.[0]?.extensions?.code, 'GATEWAY_FILTER_TOO_LARGE');
    assert.ok((await gql('{ block { height } }', [1])).errors);
  });

  it('bundles pending items into storage and reads them back from the cache or from storage', async () => {
    const items = await Promise.all(Array.from({ length: 5 }, (_, n) => signedItem({ data: `data ${n}`, tags: [{ name: 'N', value: String(n) }] })));
    for (const item of items) await service.ingest(item.raw);
    await service.flush();
    assert.equal(storage.puts, 1);
    assert.equal(service.stats().pendingItems, 0);
    const meta = service.itemMeta(items[2]!.id);
    assert.ok(meta.bundle);
    // The cached file is a real ANS-104 bundle and the index points at each item inside it.
    const bundleBytes = await readFile(join(dir, 'node', 'bundles', `${meta.bundle.root}.bundle`));
    const header = readBundleHeader(bundleBytes);
    assert.deepEqual(header.map((entry) => entry.id), items.map((item) => item.id));
    assert.equal(header[2]!.offset, meta.bundle.offset);
    const bundled = await gql('query($b: [ID!]) { transactions(bundledIn: $b, sort: HEIGHT_ASC) { edges { node { id bundledIn { id } parent { id } } } } }', {
      b: [meta.bundle.id],
    });
    const nodes = (bundled.data as Edges).transactions.edges.map((edge) => edge.node);
    assert.deepEqual(nodes.map((n) => n.id), items.map((item) => item.id));
    assert.deepEqual(nodes[0]!.bundledIn, { id: meta.bundle.id });

    await rm(join(dir, 'node', 'bundles'), { recursive: true });
    assert.equal(new TextDecoder().decode((await service.itemData(items[4]!.id)).data), 'data 4');
    assert.equal(storage.gets, 1);
    assert.deepEqual(await service.rawItem(items[0]!.id), items[0]!.raw);
    assert.equal(storage.gets, 1, 'the fetched bundle is cached again');
  });

  it('keeps everything across a restart and bundles what was pending', async () => {
    const items = await Promise.all(Array.from({ length: 3 }, (_, n) => signedItem({ data: `kept ${n}` })));
    await service.ingest(items[0]!.raw);
    await service.flush();
    await service.ingest(items[1]!.raw);
    await service.ingest(items[2]!.raw);
    await service.close();
    service = open({ bundleIntervalMs: 10 });
    assert.equal(service.stats().items, 3);
    for (let i = 0; i < 200 && service.stats().pendingItems > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(service.stats().pendingItems, 0);
    for (const [n, item] of items.entries()) assert.equal(new TextDecoder().decode((await service.itemData(item.id)).data), `kept ${n}`);
    assert.equal(storage.puts, 2);
  });

  it('stamps items with the last known block when the chain is unreachable', async () => {
    await service.ingest((await signedItem({ data: 'first' })).raw);
    await service.close();
    let up = false;
    service = createGatewayService(
      { dataDir: join(dir, 'node'), blockInfoTtlMs: 0 },
      { storage, log: silentLog, blockInfo: async () => (up ? chain.at(9) : Promise.reject(new Error('chain down'))) },
    );
    const second = await signedItem({ data: 'second' });
    await service.ingest(second.raw);
    assert.equal(service.itemMeta(second.id).block.height, 5);
    up = true;
    assert.equal((await service.info()).height, 9);

    const fresh = createGatewayService({ dataDir: join(dir, 'other') }, { storage, log: silentLog, blockInfo: () => Promise.reject(new Error('down')) });
    await assert.rejects(fresh.ingest((await signedItem({ data: 'third' })).raw), hasCode('GATEWAY_CHAIN_UNAVAILABLE'));
    await fresh.close();
  });
});

describe('gateway durability under kill -9', () => {
  let dir: string;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('loses nothing it acknowledged', async () => {
    dir = await tempDir();
    const here = (name: string) => pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), name)).href;
    const script = join(dir, 'child.ts');
    await writeFile(
      script,
      `import { createGatewayService } from ${JSON.stringify(here('gateway-service.ts'))};
       import { dirBundleStorage } from ${JSON.stringify(here('bundle-storage.ts'))};
       import { manualChain, signedItem, silentLog, testSigner } from ${JSON.stringify(here('testing.ts'))};
       const service = createGatewayService({ dataDir: ${JSON.stringify(join(dir, 'node'))}, bundleIntervalMs: 5 },
         { storage: dirBundleStorage(${JSON.stringify(join(dir, 'remote'))}), blockInfo: manualChain(3).blockInfo, log: silentLog });
       for (let round = 0; ; round++) {
         const items = await Promise.all(Array.from({ length: 20 }, (_, n) => signedItem({ signer: testSigner(n % 4), data: 'r' + round + 'n' + n })));
         await Promise.all(items.map(async (item) => { await service.ingest(item.raw); process.stdout.write(item.id + '\\n'); }));
       }`,
    );
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    for await (const line of createInterface({ input: child.stdout })) {
      acked.push(line);
      if (acked.length >= 400) break;
    }
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));

    const storage = dirBundleStorage(join(dir, 'remote'));
    const service = createGatewayService({ dataDir: join(dir, 'node'), bundleIntervalMs: 60_000 }, { storage, blockInfo: manualChain(4).blockInfo, log: silentLog });
    try {
      for (const id of acked) assert.equal(service.itemMeta(id).id, id);
      await service.flush();
      assert.equal(service.stats().pendingItems, 0);
      await rm(join(dir, 'node', 'bundles'), { recursive: true });
      for (const id of acked.slice(0, 50)) assert.equal((await service.rawItem(id)).length > 0, true);
    } finally {
      await service.close();
    }
  });
});
