/**
 * The CU's block metadata client against the gateway's real GraphQL executor (fetch answered in
 * process): spans of at most 100 heights per request, seconds turned into ms, answers cached,
 * and typed errors for blocks the gateway does not have yet or a query it refuses.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpstreamError } from '../protocol/errors.ts';
import type { ChainBlockSource } from '../gateway/chain-blocks.ts';
import { sqliteGatewayStore } from '../gateway/gateway-store.ts';
import type { GatewayStore } from '../gateway/gateway-store.ts';
import { createGraphql } from '../gateway/graphql-schema.ts';
import { silentLog, tempDir } from '../gateway/testing.ts';
import { httpGatewayBlocks } from './unit-clients.ts';

const T0 = 1_700_000_000;
const HEAD = 400;
const chain: ChainBlockSource = {
  head: async () => HEAD,
  byHeight: async (height) => (height <= HEAD ? { height, id: `0x${height.toString(16).padStart(64, '0')}`, timestamp: T0 + height * 3, previous: '0x' } : undefined),
  byId: async () => undefined,
};

describe('httpGatewayBlocks', () => {
  let dir: string;
  let store: GatewayStore;
  const requests: { min: number; max: number }[] = [];
  let fetchImpl: typeof fetch;

  before(async () => {
    dir = await tempDir('levity-blocks-client-');
    store = sqliteGatewayStore(join(dir, 'index.sqlite'));
    const graphql = createGraphql(store, silentLog, { chainBlocks: chain });
    fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
      assert.equal(String(url), 'http://gateway.test/graphql');
      const { query, variables } = JSON.parse(String(init?.body)) as { query: string; variables: { min: number; max: number } };
      requests.push({ min: variables.min, max: variables.max });
      const { json, hasData } = await graphql.runJson(query, variables);
      return new Response(json, { status: hasData ? 200 : 400, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads heights in spans of at most 100 blocks, in ms, and keeps them', async () => {
    const client = httpGatewayBlocks('http://gateway.test/', { fetch: fetchImpl });
    const found = await client.blocksAt([300, 5, 104, 50, 105, 5]);
    assert.deepEqual([...found.keys()], [5, 50, 104, 105, 300]);
    assert.deepEqual(found.get(104), { height: 104, timestamp: (T0 + 312) * 1000 });
    assert.deepEqual(requests, [
      { min: 5, max: 104 },
      { min: 105, max: 105 },
      { min: 300, max: 300 },
    ]);
    requests.length = 0;
    assert.equal((await client.blocksAt([50, 300])).get(300)?.timestamp, (T0 + 900) * 1000);
    assert.deepEqual(requests, [], 'blocks never change: asked once');
  });

  it('fails with AO_GATEWAY_BLOCK_MISSING for a height past the gateway head', async () => {
    const client = httpGatewayBlocks('http://gateway.test', { fetch: fetchImpl });
    await assert.rejects(client.blocksAt([399, 401]), (error: unknown) => error instanceof UpstreamError && error.code === 'AO_GATEWAY_BLOCK_MISSING');
  });

  it('reports a gateway that cannot answer the query as an upstream error', async () => {
    const broken = (async () => new Response(JSON.stringify({ data: null, errors: [{ message: 'chain down' }] }), { status: 200 })) as typeof fetch;
    await assert.rejects(
      httpGatewayBlocks('http://gateway.test', { fetch: broken }).blocksAt([1]),
      (error: unknown) => error instanceof UpstreamError && error.code === 'AO_GATEWAY_FAILED' && /chain down/.test(error.message),
    );
    const down = (async () => {
      throw new TypeError('fetch failed');
    }) as typeof fetch;
    await assert.rejects(
      httpGatewayBlocks('http://gateway.test', { fetch: down }).blocksAt([1]),
      (error: unknown) => error instanceof UpstreamError && error.code === 'AO_GATEWAY_UNAVAILABLE',
    );
  });
});
