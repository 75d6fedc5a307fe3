import assert from 'node:assert/strict';
import { generateKeyPair } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseDataItem, verifyDataItem } from '../protocol/ans104/index.ts';
import type { DataItem } from '../protocol/ans104/types.ts';
import { InvalidInputError, NotFoundError, isLevityError } from '../protocol/errors.ts';
import { dirBundleStorage } from './bundle-storage.ts';
import { gatewayClient } from './client.ts';
import { createGateway } from './gateway-node.ts';
import type { Gateway } from './gateway-node.ts';
import { AO_QUERIES, MODULE_TAGS, manualChain, signedItem, silentLog, tempDir, testSigner } from './testing.ts';

type Node = Record<string, unknown> & { id: string; tags: { name: string; value: string }[] };
type Connection = { pageInfo?: { hasNextPage: boolean }; edges: { cursor: string; node: Node }[] };

/** An item signed by aoconnect's own signer (RSA-4096, ANS-104 type 1), the way `message` builds one. */
async function aoconnectItem(target: string): Promise<DataItem> {
  const jwk = await new Promise<JsonWebKey>((resolve, reject) =>
    generateKeyPair('rsa', { modulusLength: 4096, publicExponent: 65537 }, (error, _public, privateKey) =>
      error ? reject(error) : resolve(privateKey.export({ format: 'jwk' }) as JsonWebKey),
    ),
  );
  const ao = (await import('@permaweb/aoconnect')) as unknown as {
    connect(config: { MODE: 'legacy' }): {
      signMessage(args: { process: string; data: string; tags: { name: string; value: string }[]; signer: unknown }): Promise<{ id: string; raw: Uint8Array }>;
    };
    createDataItemSigner(wallet: JsonWebKey): unknown;
  };
  const signed = await ao.connect({ MODE: 'legacy' }).signMessage({
    process: target,
    data: 'from aoconnect',
    tags: [{ name: 'Action', value: 'Eval' }, { name: 'Data-Protocol', value: 'ao' }, { name: 'Type', value: 'Message' }],
    signer: ao.createDataItemSigner(jwk),
  });
  const item = parseDataItem(new Uint8Array(signed.raw));
  assert.equal(item.id, signed.id);
  assert.equal(item.signatureType, 1);
  return item;
}

describe('gateway over HTTP', () => {
  let dir: string;
  let gateway: Gateway;
  let url: string;
  const storage = () => dirBundleStorage(join(dir, 'remote'));
  const chain = manualChain(10);
  let remote: ReturnType<typeof dirBundleStorage>;
  const start = async () => {
    remote = storage();
    gateway = createGateway({
      dataDir: join(dir, 'node'),
      host: '127.0.0.1',
      port: 0,
      log: silentLog,
      storage: remote,
      blockInfo: chain.blockInfo,
      blockInfoTtlMs: 0,
      bundleIntervalMs: 60_000,
      maxItemBytes: 64 * 1024,
    });
    await gateway.start();
    url = gateway.url;
  };
  const post = (path: string, body: Uint8Array) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: body as Uint8Array<ArrayBuffer> });
  const graphql = async (query: string, variables?: object) => {
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    return { status: response.status, body: (await response.json()) as { data?: { transactions: Connection }; errors?: { message: string }[] } };
  };
  const ids = async (query: string, variables?: object) => {
    const { status, body } = await graphql(query, variables);
    assert.equal(status, 200, JSON.stringify(body));
    return body.data!.transactions.edges.map((edge) => edge.node.id);
  };

  // Items: a module, a Scheduler-Location, a process, messages from several owners at rising heights.
  const items: Record<string, DataItem> = {};
  const messages: DataItem[] = [];
  let rsa: DataItem;

  before(async () => {
    dir = await tempDir();
    await start();
    items.module = await signedItem({ signer: testSigner(1), tags: MODULE_TAGS, data: 'wasm module' });
    items.location = await signedItem({
      signer: testSigner(2),
      tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Variant', value: 'ao.TN.1' },
        { name: 'Type', value: 'Scheduler-Location' },
        { name: 'Url', value: 'http://127.0.0.1:9' },
        { name: 'Time-To-Live', value: '3600000' },
      ],
    });
    for (const name of ['module', 'location'] as const) assert.equal((await post('/tx', items[name]!.raw)).status, 200);
    chain.set(11);
    const scheduler = (await (await fetch(`${url}/tx/${items.location!.id}`)).json()) as { owner: { address: string } };
    items.process = await signedItem({
      signer: testSigner(3),
      tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Type', value: 'Process' },
        { name: 'Module', value: items.module!.id },
        { name: 'Scheduler', value: scheduler.owner.address },
        { name: 'Content-Type', value: 'text/plain' },
      ],
      data: 'process data',
    });
    const posted = await post('/', items.process.raw);
    assert.deepEqual(await posted.json(), { id: items.process.id });
    for (let n = 0; n < 12; n++) {
      chain.set(12 + Math.floor(n / 3));
      const item = await signedItem({
        signer: testSigner(4 + (n % 2)),
        target: items.process.id,
        tags: [
          { name: 'Data-Protocol', value: 'ao' },
          { name: 'Type', value: 'Message' },
          { name: 'Action', value: ['Eval', 'Transfer', 'Info'][n % 3]! },
        ],
        data: `message ${n}`,
      });
      assert.equal((await post('/tx', item.raw)).status, 200);
      messages.push(item);
    }
    rsa = await aoconnectItem(items.process.id);
    assert.equal(verifyDataItem(rsa), true);
    assert.deepEqual(await (await post('/tx', rsa.raw)).json(), { id: rsa.id });
  });
  after(async () => {
    await gateway?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('passes the spawn module check and the scheduler-utils queries verbatim', async () => {
    const check = await graphql(AO_QUERIES.spawnModuleCheck, { transactionIds: [items.module!.id] });
    assert.equal(check.status, 200);
    const node = check.body.data!.transactions.edges[0]!.node;
    const tags = Object.fromEntries(node.tags.map((tag) => [tag.name, tag.value]));
    assert.equal(tags['Data-Protocol'], 'ao');
    assert.equal(tags.Type, 'Module');
    assert.ok(tags['Module-Format'] && tags['Input-Encoding'] && tags['Output-Encoding']);
    assert.deepEqual(node.block, { id: 'block-10', height: 10, timestamp: chain.at(10).timestamp });

    const process = await graphql(AO_QUERIES.processScheduler, { transactionIds: [items.process!.id] });
    const scheduler = process.body.data!.transactions.edges[0]!.node.tags.find((tag) => tag.name === 'Scheduler')!.value;
    const location = await graphql(AO_QUERIES.schedulerLocation, { owner: scheduler });
    const suUrl = location.body.data!.transactions.edges[0]!.node.tags.find((tag) => tag.name === 'Url')!.value;
    assert.equal(suUrl, 'http://127.0.0.1:9');

    const full = await graphql(AO_QUERIES.getProcess, { ids: [items.process!.id] });
    assert.equal(full.status, 200);
    const got = full.body.data!.transactions;
    assert.deepEqual(got.pageInfo, { hasNextPage: false });
    assert.equal(got.edges[0]!.node.id, items.process!.id);
    assert.deepEqual(got.edges[0]!.node.data, { size: String('process data'.length), type: 'text/plain' });

    const viaGet = await fetch(`${url}/graphql?${new URLSearchParams({ query: AO_QUERIES.spawnModuleCheck, variables: JSON.stringify({ transactionIds: [items.module!.id] }) })}`);
    assert.equal(viaGet.status, 200);
    assert.equal(((await viaGet.json()) as { data: { transactions: Connection } }).data.transactions.edges.length, 1);
  });

  it('indexes the aoconnect-signed RSA item with its owner and recipient', async () => {
    const found = await graphql('query($id: ID!) { transaction(id: $id) { owner { address key } recipient signature tags { name value } } }', { id: rsa.id });
    const node = (found.body.data as unknown as { transaction: { owner: { key: string }; recipient: string; signature: string } }).transaction;
    assert.equal(node.recipient, items.process!.id);
    assert.equal(node.owner.key.length, 683); // 512 bytes of modulus
    assert.equal(Buffer.from(node.signature, 'base64url').length, 512);
    assert.deepEqual(await ids('query($r: [String!]) { transactions(recipients: $r, tags: [{name: "Action", values: ["Eval"]}], first: 100) { edges { node { id } } } }', { r: [items.process!.id] }), [
      rsa.id,
      ...messages.filter((_, n) => n % 3 === 0).map((item) => item.id).reverse(),
    ]);
  });

  it('filters by tags (AND across, OR within), owners and heights, sorted and paged', async () => {
    const ownerOf = async (item: DataItem) => ((await (await fetch(`${url}/tx/${item.id}`)).json()) as { owner: { address: string } }).owner.address;
    const transferOrInfo = messages.filter((_, n) => n % 3 !== 0).map((item) => item.id);
    assert.deepEqual(
      await ids('{ transactions(tags: [{name: "Type", values: ["Message"]}, {name: "Action", values: ["Transfer", "Info"]}], sort: HEIGHT_ASC, first: 100) { edges { node { id } } } }'),
      transferOrInfo,
    );
    const owner = await ownerOf(messages[1]!);
    assert.deepEqual(
      await ids('query($o: [String!]) { transactions(owners: $o, sort: HEIGHT_ASC) { edges { node { id } } } }', { o: [owner] }),
      messages.filter((_, n) => n % 2 === 1).map((item) => item.id),
    );
    assert.deepEqual(
      await ids('{ transactions(block: {min: 12, max: 12}, sort: HEIGHT_ASC) { edges { node { id } } } }'),
      messages.slice(0, 3).map((item) => item.id),
    );
    // Paging through everything 4 at a time gives every item once, newest first.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const { body } = await graphql('query($after: String) { transactions(first: 4, after: $after) { pageInfo { hasNextPage } edges { cursor node { id } } } }', { after });
      const page = body.data!.transactions;
      seen.push(...page.edges.map((edge) => edge.node.id));
      if (!page.pageInfo!.hasNextPage) break;
      after = page.edges.at(-1)!.cursor;
    }
    const all = [items.module!, items.location!, items.process!, ...messages, rsa].map((item) => item.id);
    assert.deepEqual(seen, [...all].reverse());
    assert.equal((await ids('{ transactions(first: 1000) { edges { node { id } } } }')).length, all.length);
  });

  it('answers duplicates with the same id and refuses bad items with typed 4xx errors', async () => {
    const again = await post('/tx', messages[0]!.raw);
    assert.equal(again.status, 200);
    assert.deepEqual(await again.json(), { id: messages[0]!.id });

    const forged = Uint8Array.from(messages[0]!.raw);
    forged[forged.length - 2]! ^= 0xff;
    const rejected = await post('/tx', forged);
    assert.equal(rejected.status, 400);
    assert.equal(((await rejected.json()) as { error: { code: string } }).error.code, 'GATEWAY_BAD_SIGNATURE');

    const truncated = await post('/tx', messages[0]!.raw.subarray(0, 90));
    assert.equal(truncated.status, 400);
    assert.equal(((await truncated.json()) as { error: { code: string } }).error.code, 'ANS104_MALFORMED');

    const big = await signedItem({ data: new Uint8Array(100 * 1024) });
    const tooLarge = await post('/tx', big.raw);
    assert.equal(tooLarge.status, 413);
    assert.equal(((await tooLarge.json()) as { error: { code: string } }).error.code, 'GATEWAY_TOO_LARGE');
    // A body that claims more than the limit is refused before any of it is read.
    const declared = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${url}/tx`, { method: 'POST', headers: { 'content-length': String(1 << 30) } }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on('error', reject);
      request.write('partial');
    });
    assert.equal(declared.status, 413);
    assert.match(declared.body, /GATEWAY_TOO_LARGE/);
    // Without a length, the body is counted as it streams in and refused once past the limit.
    const chunk = new Uint8Array(16 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const streamed = await fetch(`${url}/tx`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    assert.equal(streamed.status, 413);
  });

  it('answers malformed GraphQL with errors, never a 5xx', async () => {
    for (const body of ['{"query": "{ transactions("}', '{"query": "{ nope }"}', 'not json', '{}', '{"query": 5}', '[]']) {
      const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      assert.equal(response.status, 400, body);
      assert.ok(((await response.json()) as { errors: unknown[] }).errors.length > 0);
    }
    const badCursor = await graphql('{ transactions(after: "x") { edges { cursor } } }');
    assert.equal(badCursor.status, 200);
    assert.ok(badCursor.body.errors);
    assert.equal((await fetch(`${url}/graphql`)).status, 400);
  });

  it('serves data, metadata and info; unknown ids are 404 JSON', async () => {
    const raw = await fetch(`${url}/raw/${items.process!.id}`);
    assert.equal(raw.status, 200);
    assert.equal(raw.headers.get('content-type'), 'text/plain');
    assert.equal(await raw.text(), 'process data');
    const bare = await fetch(`${url}/${messages[2]!.id}`);
    assert.equal(await bare.text(), 'message 2');
    assert.equal(bare.headers.get('content-type'), 'application/octet-stream');
    const meta = (await (await fetch(`${url}/tx/${rsa.id}`)).json()) as { signatureType: number; recipient: string };
    assert.equal(meta.signatureType, 1);
    assert.equal(meta.recipient, items.process!.id);
    for (const path of [`/raw/${'A'.repeat(43)}`, `/${'A'.repeat(43)}`, `/tx/${'A'.repeat(43)}`, '/not-an-id', '/raw/x']) {
      const response = await fetch(`${url}${path}`);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code.length > 0, true);
    }
    for (const path of ['/info', '/']) {
      const info = (await (await fetch(`${url}${path}`)).json()) as Record<string, unknown>;
      assert.equal(info.network, 'levity');
      assert.equal(info.peers, 0);
      assert.equal(info.items, 3 + messages.length + 1);
      assert.equal(typeof info.height, 'number');
      assert.equal(typeof info.current, 'string');
      assert.equal(info.blocks, 6);
    }
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.match(await (await fetch(`${url}/metrics`)).text(), /levity_gateway_items_total/);
  });

  it('works through gatewayClient with typed errors', async () => {
    const client = gatewayClient(`${url}/`);
    const item = await signedItem({ signer: testSigner(9), data: 'via client', tags: [{ name: 'Client', value: 'yes' }] });
    assert.deepEqual(await client.postItem(item.raw), { id: item.id });
    assert.equal(new TextDecoder().decode(await client.data(item.id)), 'via client');
    const data = await client.graphql<{ transactions: Connection }>('{ transactions(tags: [{name: "Client", values: ["yes"]}]) { edges { node { id } } } }');
    assert.equal(data.transactions.edges[0]!.node.id, item.id);
    await assert.rejects(client.data('A'.repeat(43)), (error: unknown) => error instanceof NotFoundError);
    await assert.rejects(client.postItem(new Uint8Array(10)), (error: unknown) => error instanceof InvalidInputError && error.code === 'ANS104_MALFORMED');
    await assert.rejects(client.graphql('{ nope }'), (error: unknown) => isLevityError(error) && error.code === 'GATEWAY_GRAPHQL_FAILED');
    await assert.rejects(gatewayClient('http://127.0.0.1:1').data(item.id), (error: unknown) => isLevityError(error) && error.code === 'GATEWAY_UNREACHABLE');
  });

  it('keeps everything across a restart and serves data after the local bundle cache is gone', async () => {
    await gateway.service.flush();
    await gateway.stop();
    await start();
    assert.deepEqual(
      await ids('query($ids: [ID!]) { transactions(ids: $ids) { edges { node { id } } } }', { ids: [items.module!.id, rsa.id] }),
      [rsa.id, items.module!.id],
    );
    await rm(join(dir, 'node', 'bundles'), { recursive: true });
    const gets = remote.gets;
    const response = await fetch(`${url}/raw/${messages[5]!.id}`);
    assert.equal(await response.text(), 'message 5');
    assert.equal(remote.gets, gets + 1);
    assert.equal(await (await fetch(`${url}/${rsa.id}`)).text(), 'from aoconnect');
    assert.equal(remote.gets, gets + 1);
    const bundled = await graphql('query($id: ID!) { transaction(id: $id) { bundledIn { id } } }', { id: rsa.id });
    assert.match(JSON.stringify(bundled.body.data), /"bundledIn":\{"id":"[A-Za-z0-9_-]{43}"\}/);
  });
});
