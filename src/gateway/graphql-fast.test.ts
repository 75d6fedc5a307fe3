import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { ethereumSigner } from '../protocol/ans104/index.ts';
import type { DataItem } from '../protocol/ans104/types.ts';
import { dirBundleStorage } from './bundle-storage.ts';
import { createGatewayService } from './gateway-service.ts';
import { sqliteGatewayStore } from './gateway-store.ts';
import type { GatewayStore } from './gateway-store.ts';
import { createGraphql } from './graphql-schema.ts';
import type { GatewayGraphql } from './graphql-schema.ts';
import { AO_QUERIES, MODULE_TAGS, manualChain, signedBundle, signedItem, silentLog, tempDir, testSigner } from './testing.ts';

const FULL_NODE = `id anchor signature recipient owner { address key } fee { winston ar } quantity { winston ar }
  data { size type } tags { name value } block { id timestamp height previous } parent { id } bundledIn { id }`;

describe('GraphQL fast path', () => {
  let dir: string;
  let store: GatewayStore;
  let fast: GatewayGraphql;
  let general: GatewayGraphql;
  const items: DataItem[] = [];
  let outer: DataItem;
  let bundleId: string;
  let ethAddress: string;

  before(async () => {
    dir = await tempDir();
    const chain = manualChain(3);
    const service = createGatewayService(
      { dataDir: join(dir, 'node'), bundleIntervalMs: 60_000, blockInfoTtlMs: 0 },
      { storage: dirBundleStorage(join(dir, 'remote')), blockInfo: chain.blockInfo, log: silentLog },
    );
    const eth = ethereumSigner(`0x${'09'.repeat(32)}`);
    items.push(await signedItem({ signer: testSigner(1), tags: MODULE_TAGS, data: 'module' }));
    for (let n = 0; n < 14; n++) {
      items.push(
        await signedItem({
          signer: n % 4 === 3 ? eth : testSigner(2 + (n % 3)),
          target: n % 2 === 0 ? items[0]!.id : undefined,
          anchor: n % 3 === 0 ? `anchor-${String(n).padStart(25, '0')}` : undefined,
          tags: [
            { name: 'Data-Protocol', value: 'ao' },
            { name: 'Type', value: n % 5 === 0 ? 'Process' : 'Message' },
            { name: 'Action', value: ['Eval', 'Transfer', 'Info'][n % 3]! },
            ...(n === 4 ? [{ name: 'Weird', value: 'quote " backslash \\ newline \n tab \t ü 😀 \u0001' }] : []),
            ...(n === 6 ? [] : [{ name: 'Content-Type', value: n % 2 ? 'text/plain' : 'application/json' }]),
          ],
          data: `message ${n}`,
        }),
      );
    }
    for (const [n, item] of items.entries()) {
      chain.set(3 + Math.floor(n / 3));
      await service.ingest(item.raw);
      if (n === 7) await service.flush(); // half the items in a stored bundle, half pending
    }
    const inner = await Promise.all(
      [0, 1, 2, 3].map((n) => signedItem({ signer: testSigner(5), tags: [{ name: 'Inner', value: String(n) }, { name: 'Type', value: 'Message' }], data: `inner ${n}` })),
    );
    chain.set(9);
    outer = await signedBundle(inner.map((item) => item.raw), { signer: testSigner(6) });
    await service.ingest(outer.raw);
    items.push(outer, ...inner);
    bundleId = service.itemMeta(items[1]!.id).bundle!.id;
    ethAddress = service.itemMeta(items[4]!.id).owner.address;
    await service.close();
    // Half the rows as an index written before tags were stored as JSON: the plan falls back to the tags table.
    const db = new DatabaseSync(join(dir, 'node', 'index.sqlite'));
    db.exec('UPDATE items SET tags_json = NULL WHERE seq % 2 = 0');
    db.close();
    store = sqliteGatewayStore(join(dir, 'node', 'index.sqlite'));
    fast = createGraphql(store, silentLog);
    general = createGraphql(store, silentLog, { fastPath: false });
  });
  after(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Both executors' answers, as a client parses them; checks they are equal. */
  const both = async (query: string, variables?: Record<string, unknown>, operationName?: string) => {
    const before = fast.stats().fast;
    const viaFast = await fast.runJson(query, variables, operationName);
    const viaGeneral = await general.runJson(query, variables, operationName);
    assert.deepEqual(JSON.parse(viaFast.json), JSON.parse(viaGeneral.json), query);
    assert.equal(viaFast.hasData, viaGeneral.hasData);
    return { body: JSON.parse(viaFast.json) as { data?: { transactions?: { edges: unknown[] } }; errors?: unknown }, fast: fast.stats().fast > before };
  };

  it('answers the common shapes from the plan, exactly as graphql-js does', async () => {
    const cases: [string, Record<string, unknown>?][] = [
      [`{ transactions(first: 100) { pageInfo { hasNextPage } edges { cursor node { ${FULL_NODE} } } } }`],
      [`{ transactions(first: 5, sort: HEIGHT_ASC) { pageInfo { hasNextPage } edges { cursor node { id } } } }`],
      [`query($ids: [ID!]) { transactions(ids: $ids) { edges { node { ${FULL_NODE} } } } }`, { ids: items.map((item) => item.id) }],
      [`query($id: ID!) { transactions(ids: [$id]) { edges { node { id tags { name value } } } } }`, { id: items[5]!.id }],
      ['query($ids: [ID!]) { transactions(ids: $ids) { edges { node { id } } } }', { ids: items[3]!.id }], // a single value for a list
      ['{ transactions(tags: [{name: "Type", values: ["Message"]}, {name: "Action", values: ["Eval", "Info"]}], first: 100) { edges { node { id tags { name value } } } } }'],
      ['{ transactions(tags: [{name: "Action", values: ["Eval"], op: NEQ}], first: 100) { edges { node { id } } } }'],
      ['query($t: String!) { transactions(tags: [{name: "Type", values: [$t]}], first: 3, sort: HEIGHT_ASC) { pageInfo { hasNextPage } edges { cursor node { id block { height } } } } }', { t: 'Message' }],
      ['query($o: [String!]) { transactions(owners: $o, first: 100) { edges { node { id owner { address key } } } } }', { o: [ethAddress] }],
      [`query($r: [String!]) { transactions(recipients: $r, block: {min: 4, max: 6}) { edges { node { id recipient block { id height previous timestamp } } } } }`, { r: [items[0]!.id] }],
      ['query($b: [ID!]) { transactions(bundledIn: $b, first: 100) { edges { node { id bundledIn { id } parent { id } } } } }', { b: [bundleId] }],
      ['query($b: [ID!]) { transactions(bundledIn: $b, first: 100) { edges { node { id bundledIn { id } } } } }', { b: [outer.id] }],
      ['query($b: [ID!]) { transactions(bundledIn: $b, first: 100) { edges { node { id } } } }', { b: [outer.id, bundleId] }],
      ['{ transactions(first: 0) { pageInfo { hasNextPage } edges { node { id } } } }'],
      ['{ transactions(first: 1000) { edges { node { id } } } }'],
      ['query($first: Int = 2) { transactions(first: $first) { edges { node { id } } } }'],
      ['query($first: Int = 2) { transactions(first: $first) { edges { node { id } } } }', { first: 4 }],
      ['query($first: Int) { transactions(first: $first) { edges { node { id } } } }'], // absent: the schema default
      ['query($s: SortOrder) { transactions(sort: $s, first: 3) { edges { node { id } } } }', { s: 'HEIGHT_ASC' }],
      // Aliases, __typename, repeated fields merged, two node selections in one edge.
      [`{ __typename all: transactions(first: 4) { __typename more: pageInfo { __typename hasNextPage } edges { __typename c: cursor a: node { __typename id tags { __typename value } } b: node { id: signature owner { __typename address } } node { block { height } } node { block { id } tags { name } } } } }`],
      [`{ transactions(ids: ["${items[2]!.id}"]) { edges { node { id data { size type __typename } fee { ar } quantity { winston } } } } }`],
      [AO_QUERIES.spawnModuleCheck, { transactionIds: [items[0]!.id] }],
      [AO_QUERIES.processScheduler, { transactionIds: [items[1]!.id] }],
      [AO_QUERIES.getProcess, { ids: [items[1]!.id] }],
      ['query($tags: [String!]!) { transactions(tags: [{name: "Weird", values: $tags}]) { edges { node { tags { name value } } } } }', { tags: ['quote " backslash \\ newline \n tab \t ü 😀 \u0001'] }],
      ['{ transactions(ids: ["nothing-here"]) { pageInfo { hasNextPage } edges { cursor node { id } } } }'],
      ['{ transactions(owners: ["nobody"]) { edges { node { id } } } }'],
    ];
    for (const [query, variables] of cases) {
      const { body, fast: tookFastPath } = await both(query, variables);
      assert.equal(body.errors, undefined, query);
      assert.ok(tookFastPath, `fast path not taken for ${query}`);
    }
    // The named operation is honoured like graphql-js does.
    const named = await both(AO_QUERIES.schedulerLocation, { owner: ethAddress }, 'GetSchedulerLocation');
    assert.ok(named.fast);
  });

  it('pages with cursors identically', async () => {
    let after: string | undefined;
    const seen: string[] = [];
    for (;;) {
      const { body, fast: tookFastPath } = await both('query($a: String) { transactions(first: 4, after: $a, sort: HEIGHT_ASC) { pageInfo { hasNextPage } edges { cursor node { id } } } }', { a: after });
      assert.ok(tookFastPath);
      const page = (body.data as { transactions: { pageInfo: { hasNextPage: boolean }; edges: { cursor: string; node: { id: string } }[] } }).transactions;
      seen.push(...page.edges.map((edge) => edge.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.edges.at(-1)!.cursor;
    }
    assert.equal(new Set(seen).size, items.length);
  });

  it('leaves everything else to graphql-js, errors included', async () => {
    const cases: [string, Record<string, unknown>?, string?][] = [
      [AO_QUERIES.cuProcesses, { processIds: [items[1]!.id], skipTags: true, skipSignature: false, skipAnchor: true }],
      ['{ transactions(after: "zzz") { edges { cursor } } }'],
      ['query($ids: [ID!]) { transactions(ids: $ids) { edges { cursor } } }', { ids: Array.from({ length: 3000 }, (_, n) => String(n)) }],
      ['query($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id } } } }'],
      ['query($ids: [ID!]) { transactions(ids: $ids) { edges { node { id } } } }', { ids: [5] }],
      ['query($ids: [ID!]) { transactions(ids: $ids) { edges { node { id } } } }', { ids: null }],
      ['{ transactions(first: null) { edges { node { id } } } }'],
      ['fragment F on Transaction { id } { transactions { edges { node { ...F } } } }'],
      ['{ transactions { edges { node { ... on Transaction { id } } } } }'],
      [`{ transaction(id: "${items[1]!.id}") { id } }`],
      ['{ a: transactions(first: 1) { edges { node { id } } } b: transactions(first: 2) { edges { node { id } } } }'],
      ['{ blocks(first: 2) { edges { node { height } } } }'],
      ['query Q { transactions(first: 1) { edges { node { id } } } }', undefined, 'Other'],
      ['query($t: [TagFilter!]) { transactions(tags: $t) { edges { node { id } } } }', { t: [{ name: 'Type', values: ['Process'] }] }],
    ];
    for (const [query, variables, operationName] of cases) {
      const { fast: tookFastPath } = await both(query, variables, operationName);
      assert.equal(tookFastPath, false, query);
    }
  });
});
