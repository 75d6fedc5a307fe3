/**
 * GraphQL `blocks` over the chain: ranges, paging by cursor, both sorts, ids, and bad arguments
 * answered as typed GraphQL errors (HTTP 200 with `errors`, never a 5xx). Also the viem adapter.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PublicClient } from 'viem';
import { UpstreamError } from '../protocol/errors.ts';
import { blockQueryOf, chainBlockPage, evmChainBlocks } from './chain-blocks.ts';
import type { ChainBlockSource } from './chain-blocks.ts';
import { sqliteGatewayStore } from './gateway-store.ts';
import type { BlockRow, GatewayStore } from './gateway-store.ts';
import { createGraphql } from './graphql-schema.ts';
import type { GatewayGraphql } from './graphql-schema.ts';
import { AO_QUERIES, silentLog, tempDir } from './testing.ts';

const hashOf = (height: number) => `0x${height.toString(16).padStart(64, '0')}`;
const T0 = 1_700_000_000;
/** graphql-js answers objects with a null prototype. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** A chain of `count` blocks (heights 0..count-1), two seconds apart; counts reads. */
function memoryChain(count: number) {
  const blocks: BlockRow[] = Array.from({ length: count }, (_, height) => ({
    height,
    id: hashOf(height + 1),
    timestamp: T0 + height * 2,
    previous: height === 0 ? `0x${'0'.repeat(64)}` : hashOf(height),
  }));
  const reads = { head: 0, byHeight: 0 };
  const source: ChainBlockSource = {
    head: async () => {
      reads.head++;
      return blocks.length - 1;
    },
    byHeight: async (height) => {
      reads.byHeight++;
      return blocks[height];
    },
    byId: async (id) => blocks.find((block) => block.id === id),
  };
  return { blocks, source, reads, grow: (more: number) => blocks.push(...memoryChain(blocks.length + more).blocks.slice(blocks.length)) };
}

type Connection = { pageInfo: { hasNextPage: boolean }; edges: { cursor: string; node: { id: string; timestamp: number; height: number; previous: string } }[] };
const QUERY = `query ($ids: [ID!], $min: Int, $max: Int, $first: Int, $after: String, $sort: SortOrder) {
  blocks(ids: $ids, height: { min: $min, max: $max }, first: $first, after: $after, sort: $sort) {
    pageInfo { hasNextPage }
    edges { cursor node { id timestamp height previous } }
  }
}`;

describe('GraphQL blocks over the chain', () => {
  let dir: string;
  let store: GatewayStore;
  let graphql: GatewayGraphql;
  const chain = memoryChain(250);

  before(async () => {
    dir = await tempDir();
    store = sqliteGatewayStore(join(dir, 'index.sqlite'));
    graphql = createGraphql(store, silentLog, { chainBlocks: chain.source });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const blocks = async (variables: Record<string, unknown>): Promise<Connection> => {
    const response = await graphql.run(QUERY, variables);
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    return (plain(response.data) as { blocks: Connection }).blocks;
  };
  const heights = (connection: Connection) => connection.edges.map((edge) => edge.node.height);
  const errorCode = async (query: string, variables?: Record<string, unknown>) => {
    const { json, hasData } = await graphql.runJson(query, variables);
    const response = JSON.parse(json) as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    assert.ok(response.errors?.length, `expected an error: ${json}`);
    return { code: response.errors[0]!.extensions?.code, hasData };
  };

  it('answers every chain block in a height range, with hash, seconds and parent', async () => {
    const page = await blocks({ min: 10, max: 14, sort: 'HEIGHT_ASC' });
    assert.deepEqual(heights(page), [10, 11, 12, 13, 14]);
    assert.equal(page.pageInfo.hasNextPage, false);
    assert.deepEqual(page.edges[2]!.node, { id: hashOf(13), timestamp: T0 + 24, height: 12, previous: hashOf(12) });
    assert.deepEqual(heights(await blocks({ min: 10, max: 14, sort: 'HEIGHT_DESC' })), [14, 13, 12, 11, 10]);
  });

  it('defaults to the ten newest blocks, and reads past the head as empty', async () => {
    assert.deepEqual(heights(await blocks({})), [249, 248, 247, 246, 245, 244, 243, 242, 241, 240]);
    const past = await blocks({ min: 300, sort: 'HEIGHT_ASC' });
    assert.deepEqual(past, { pageInfo: { hasNextPage: false }, edges: [] });
    assert.deepEqual(heights(await blocks({ min: 248, max: 1000, sort: 'HEIGHT_ASC' })), [248, 249]);
  });

  it('pages forwards and backwards by cursor without gaps or repeats', async () => {
    for (const sort of ['HEIGHT_ASC', 'HEIGHT_DESC']) {
      const seen: number[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await blocks({ min: 20, max: 56, first: 10, after, sort });
        seen.push(...heights(page));
        if (!page.pageInfo.hasNextPage) break;
        after = page.edges.at(-1)!.cursor;
      }
      const expected = Array.from({ length: 37 }, (_, i) => 20 + i);
      assert.deepEqual(seen, sort === 'HEIGHT_ASC' ? expected : expected.reverse(), sort);
    }
  });

  it('caps `first` at 100 blocks, reading only those', async () => {
    const before = chain.reads.byHeight;
    const page = await blocks({ min: 0, first: 5000, sort: 'HEIGHT_ASC' });
    assert.equal(page.edges.length, 100);
    assert.equal(page.pageInfo.hasNextPage, true);
    assert.equal(chain.reads.byHeight - before, 100);
    const none = await blocks({ min: 0, first: 0, sort: 'HEIGHT_ASC' });
    assert.deepEqual(none, { pageInfo: { hasNextPage: true }, edges: [] });
  });

  it('filters by ids within the range, unknown and non-hash ids matching nothing', async () => {
    const ids = [hashOf(31), hashOf(6), 'not-a-hash', hashOf(100_000), hashOf(201)];
    assert.deepEqual(heights(await blocks({ ids, sort: 'HEIGHT_ASC' })), [5, 30, 200]);
    assert.deepEqual(heights(await blocks({ ids, min: 6, max: 100 })), [30]);
    const paged = await blocks({ ids, first: 2, sort: 'HEIGHT_DESC' });
    assert.deepEqual(heights(paged), [200, 30]);
    assert.equal(paged.pageInfo.hasNextPage, true);
    assert.deepEqual(heights(await blocks({ ids, first: 2, sort: 'HEIGHT_DESC', after: paged.edges[1]!.cursor })), [5]);
  });

  it('answers `block(id)` and the latest `block` from the chain', async () => {
    const one = await graphql.run(`{ block(id: "${hashOf(8)}") { height timestamp } latest: block { height } }`);
    assert.deepEqual(plain(one.data), { block: { height: 7, timestamp: T0 + 14 }, latest: { height: 249 } });
  });

  it('sees blocks mined after the first query', async () => {
    chain.grow(3);
    assert.deepEqual(heights(await blocks({ min: 249, sort: 'HEIGHT_ASC' })), [249, 250, 251, 252]);
  });

  it('refuses bad arguments with typed errors, never a server error', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ first: -1 }, 'GATEWAY_BAD_ARGUMENT'],
      [{ min: -5 }, 'GATEWAY_BAD_ARGUMENT'],
      [{ max: -1 }, 'GATEWAY_BAD_ARGUMENT'],
      [{ min: 9, max: 3 }, 'GATEWAY_BAD_BLOCK_RANGE'],
      [{ after: 'zzz' }, 'GATEWAY_BAD_CURSOR'],
      [{ ids: Array.from({ length: 101 }, (_, i) => hashOf(i)) }, 'GATEWAY_FILTER_TOO_LARGE'],
    ];
    for (const [variables, code] of cases) {
      const got = await errorCode(QUERY, variables);
      assert.equal(got.code, code, JSON.stringify(variables));
      assert.equal(got.hasData, true, 'a resolver error is a 200 with errors');
    }
    // A transactions cursor is not a block cursor.
    assert.equal((await errorCode(`{ blocks(after: "${Buffer.from('1:2').toString('base64url')}") { edges { cursor } } }`)).code, 'GATEWAY_BAD_CURSOR');
    // Wrong types never reach the resolver: a request error (400).
    const badType = await graphql.runJson(QUERY, { min: 'ten' });
    assert.equal(badType.hasData, false);
  });

  it('reports a chain that cannot be read as an upstream error', async () => {
    const down = createGraphql(store, silentLog, {
      chainBlocks: { ...chain.source, head: () => Promise.reject(new UpstreamError('GATEWAY_CHAIN_UNAVAILABLE', 'down')) },
    });
    const { json, hasData } = await down.runJson(QUERY, {});
    assert.equal(hasData, true);
    assert.match(json, /GATEWAY_CHAIN_UNAVAILABLE/);
  });

  it("answers the reference CU's block walk query", async () => {
    const response = await graphql.run(AO_QUERIES.cuBlocks, { min: 100, limit: 3 });
    assert.deepEqual(plain(response.data), {
      blocks: {
        pageInfo: { hasNextPage: true },
        edges: [100, 101, 102].map((height) => ({ node: { timestamp: T0 + height * 2, height } })),
      },
    });
  });
});

describe('blockQueryOf and chainBlockPage', () => {
  it('clamps first, dedupes ids and keeps an empty ids list unfiltered', () => {
    assert.deepEqual(blockQueryOf({ first: 1000, ids: [] }), { ids: undefined, min: undefined, max: undefined, first: 100, after: undefined, sort: 'HEIGHT_DESC' });
    assert.deepEqual(blockQueryOf({ ids: ['a', 'a', 'b'], sort: 'HEIGHT_ASC' }).ids, ['a', 'b']);
  });

  it('pages a range that ends at the head', async () => {
    const { source } = memoryChain(5);
    const page = await chainBlockPage(source, { min: 1, first: 2, after: 2, sort: 'HEIGHT_ASC' });
    assert.deepEqual(page.rows.map((row) => row.height), [3, 4]);
    assert.equal(page.hasNextPage, false);
    const down = await chainBlockPage(source, { first: 10, after: 2, sort: 'HEIGHT_DESC' });
    assert.deepEqual(down.rows.map((row) => row.height), [1, 0]);
  });
});

describe('evmChainBlocks', () => {
  type Args = { blockNumber?: bigint; blockHash?: string };
  const block = (n: number) => ({ number: BigInt(n), hash: hashOf(n + 1), parentHash: hashOf(n), timestamp: BigInt(T0 + n) });
  const notFound = () => Object.assign(new Error('Block could not be found.'), { name: 'BlockNotFoundError' });

  function fakeClient(head: number, fail?: () => Error) {
    const calls: Args[] = [];
    const client = {
      getBlockNumber: async () => BigInt(head),
      getBlock: async (args: Args) => {
        calls.push(args);
        if (fail) throw fail();
        const n = args.blockNumber !== undefined ? Number(args.blockNumber) : Number.parseInt(args.blockHash!, 16) - 1;
        if (n > head) throw notFound();
        return block(n);
      },
    };
    return { client: client as unknown as Pick<PublicClient, 'getBlock' | 'getBlockNumber'>, calls };
  }

  it('maps a viem block to id, seconds and parent, and caches it', async () => {
    const { client, calls } = fakeClient(20);
    const source = evmChainBlocks(client);
    assert.equal(await source.head(), 20);
    assert.deepEqual(await source.byHeight(7), { height: 7, id: hashOf(8), timestamp: T0 + 7, previous: hashOf(7) });
    assert.deepEqual(await source.byId(hashOf(8).toUpperCase().replace('0X', '0x')), await source.byHeight(7));
    assert.equal(calls.length, 1, 'the second and third reads came from the cache');
    assert.equal(await source.byHeight(21), undefined);
    assert.equal(await source.byId('arweave-style-id'), undefined);
    assert.equal(calls.length, 2, 'a malformed id never reaches the chain');
  });

  it('turns chain failures into GATEWAY_CHAIN_UNAVAILABLE', async () => {
    const source = evmChainBlocks(fakeClient(5, () => new Error('socket hang up')).client);
    await assert.rejects(source.byHeight(1), (error: unknown) => error instanceof UpstreamError && error.code === 'GATEWAY_CHAIN_UNAVAILABLE');
  });
});
