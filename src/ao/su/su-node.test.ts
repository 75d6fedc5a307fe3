import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer, fromB64Url, toB64Url } from '../../protocol/ans104/index.ts';
import { firstHashChain, nextHashChain, tagValue } from '../../protocol/ao/index.ts';
import type { SuMessage, SuPaginatedMessages, SuProcess } from '../../protocol/ao/types.ts';
import { createGateway, dirBundleStorage } from '../../gateway/index.ts';
import type { Gateway } from '../../gateway/index.ts';
import { createLogger } from '../../shared/log.ts';
import { createSu } from './su-node.ts';
import type { SuNode } from './su-node.ts';

const log = createLogger({ level: 'silent' });
const user = ed25519Signer(randomBytes(32));
let dir: string;
let gateway: Gateway;
let su: SuNode;

const blockInfo = async () => ({ height: 7, timestamp: Math.floor(Date.now() / 1000), id: 'b'.repeat(43) });

function startSu(): Promise<void> {
  su = createSu({ dataDir: join(dir, 'su'), host: '127.0.0.1', port: 0, log, gatewayUrl: gateway.url, blockHeight: async () => 7 });
  return su.start();
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-su-'));
  gateway = createGateway({ dataDir: join(dir, 'gw'), host: '127.0.0.1', port: 0, log, storage: dirBundleStorage(join(dir, 'bundles')), blockInfo });
  await gateway.start();
  await startSu();
});

after(async () => {
  await su.stop();
  await gateway.stop();
  await rm(dir, { recursive: true, force: true });
});

async function processItem(extra: { name: string; value: string }[] = []) {
  return createDataItem({
    signer: user,
    tags: [
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Variant', value: 'ao.TN.1' },
      { name: 'Type', value: 'Process' },
      { name: 'Module', value: 'm'.repeat(43) },
      { name: 'Scheduler', value: su.address },
      // ed25519 signatures are deterministic: without this, equal items would share an id.
      { name: 'Salt', value: toB64Url(randomBytes(8)) },
      ...extra,
    ],
    data: 'print("hi")',
  });
}

async function messageItem(processId: string, data: string | Uint8Array = 'hello') {
  return createDataItem({
    signer: user,
    target: processId,
    tags: [
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Variant', value: 'ao.TN.1' },
      { name: 'Type', value: 'Message' },
      { name: 'Action', value: 'Ping' },
      { name: 'Salt', value: toB64Url(randomBytes(8)) },
    ],
    data,
  });
}

async function post(raw: Uint8Array, query = ''): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${su.url}/${query}`, { method: 'POST', body: raw, headers: { 'content-type': 'application/octet-stream' } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function get<T>(path: string): Promise<T> {
  const response = await fetch(`${su.url}${path}`);
  assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
  return (await response.json()) as T;
}

test('slots get consecutive nonces, a hash chain, and pages in both cursor modes', async () => {
  const process = await processItem();
  const spawned = await post(process.raw);
  assert.equal(spawned.status, 200);
  assert.equal(spawned.body.id, process.id);

  const messages = [];
  for (let i = 0; i < 5; i++) {
    const message = await messageItem(process.id, `m${i}`);
    messages.push(message);
    assert.equal((await post(message.raw)).status, 200);
  }

  const page = await get<SuPaginatedMessages>(`/${process.id}?limit=3`);
  assert.equal(page.edges.length, 3);
  assert.equal(page.page_info.has_next_page, true);
  const nonces = page.edges.map((edge) => tagValue(edge.node.assignment.tags, 'Nonce'));
  assert.deepEqual(nonces, ['0', '1', '2']);
  assert.equal(page.edges[0]!.node.message!.id, process.id);

  // Each link hashes the previous assignment id with the previous link.
  const chain = page.edges.map((edge) => tagValue(edge.node.assignment.tags, 'Hash-Chain'));
  assert.equal(chain[0], firstHashChain(process.id));
  assert.equal(chain[1], nextHashChain(page.edges[0]!.node.assignment.id, chain[0]!));

  const rest = await get<SuPaginatedMessages>(`/${process.id}?from=${page.edges.at(-1)!.cursor}&limit=10`);
  assert.deepEqual(
    rest.edges.map((edge) => edge.node.message!.data),
    ['m2', 'm3', 'm4'],
  );
  assert.equal(rest.page_info.has_next_page, false);

  const byNonce = await get<SuPaginatedMessages>(`/${process.id}?from-nonce=3&limit=10`);
  assert.deepEqual(
    byNonce.edges.map((edge) => edge.cursor),
    ['4', '5'],
  );

  const one = await get<SuMessage>(`/${messages[2]!.id}?process-id=${process.id}`);
  assert.equal(tagValue(one.assignment.tags, 'Nonce'), '3');
  const info = await get<SuProcess>(`/processes/${process.id}`);
  assert.equal(info.process_id, process.id);
  assert.equal(info.data, 'print("hi")');
  const latest = await get<SuMessage>(`/${process.id}/latest`);
  assert.equal(latest.message!.id, messages[4]!.id);
});

test('binary data survives as base64url; the gateway has every scheduled item', async () => {
  const process = await processItem();
  await post(process.raw);
  const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x80]);
  const message = await messageItem(process.id, bytes);
  await post(message.raw);
  const slot = await get<SuMessage>(`/${message.id}?process-id=${process.id}`);
  assert.equal(slot.message!.data_encoding, 'base64url');
  assert.deepEqual(fromB64Url(slot.message!.data!), bytes);

  const graphql = async () => {
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ transactions(ids: ["${process.id}", "${message.id}"]) { edges { node { id } } } }` }),
    });
    return ((await response.json()) as { data: { transactions: { edges: unknown[] } } }).data.transactions.edges.length;
  };
  // The process is written through before the SU answers; messages follow shortly.
  for (let i = 0; i < 50 && (await graphql()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await graphql(), 2);
});

test('bad input is refused with a typed error and the SU keeps serving', async () => {
  const garbage = await post(new Uint8Array(randomBytes(200)));
  assert.equal(garbage.status, 400);

  const message = await messageItem(toB64Url(randomBytes(32)));
  const unknown = await post(message.raw);
  assert.equal(unknown.status, 404);
  assert.equal((unknown.body.error as { code: string }).code, 'SU_PROCESS_NOT_FOUND');

  const process = await processItem();
  await post(process.raw);
  const forged = Uint8Array.from(process.raw);
  forged[forged.length - 1]! ^= 1;
  const forgedReply = await post(forged);
  assert.equal(forgedReply.status, 400);

  const duplicate = await post(process.raw);
  assert.equal(duplicate.status, 409);

  const halfAssign = await post(new Uint8Array(), `?process-id=${process.id}`);
  assert.equal(halfAssign.status, 400);

  const tooBig = await post(new Uint8Array(11 * 1024 * 1024));
  assert.equal(tooBig.status, 413);

  const missing = await fetch(`${su.url}/${toB64Url(randomBytes(32))}`);
  assert.equal(missing.status, 404);
  const badPage = await fetch(`${su.url}/${process.id}?limit=lots`);
  assert.equal(badPage.status, 400);

  assert.equal((await post((await messageItem(process.id)).raw)).status, 200);
});

test('assignments order an existing message into another process', async () => {
  const [a, b] = [await processItem(), await processItem()];
  await post(a.raw);
  await post(b.raw);
  const message = await messageItem(a.id);
  await post(message.raw);
  const assigned = await post(new Uint8Array(), `?process-id=${b.id}&assign=${message.id}`);
  assert.equal(assigned.status, 200);
  const page = await get<SuPaginatedMessages>(`/${b.id}`);
  assert.equal(page.edges.length, 2);
  assert.equal(page.edges[1]!.node.message!.id, message.id);
  assert.equal(tagValue(page.edges[1]!.node.assignment.tags, 'Message'), message.id);
});

test('a restart keeps every slot and continues the nonces and the chain', async () => {
  const process = await processItem();
  await post(process.raw);
  await post((await messageItem(process.id)).raw);
  await su.stop();
  await startSu();
  const next = await messageItem(process.id);
  assert.equal((await post(next.raw)).status, 200);
  const page = await get<SuPaginatedMessages>(`/${process.id}`);
  assert.deepEqual(
    page.edges.map((edge) => tagValue(edge.node.assignment.tags, 'Nonce')),
    ['0', '1', '2'],
  );
  const [, second, third] = page.edges;
  assert.equal(tagValue(third!.node.assignment.tags, 'Hash-Chain'), nextHashChain(second!.node.assignment.id, tagValue(second!.node.assignment.tags, 'Hash-Chain')!));
});
