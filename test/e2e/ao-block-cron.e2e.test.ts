/**
 * Block crons end to end with the real @permaweb/aoconnect against `levity up`. The gateway's
 * GraphQL `blocks` lists the chain's blocks as they are on chain, and a process spawned
 * with `Cron-Interval=2-blocks` is ticked on every second chain block after the block it was
 * scheduled in, each tick carrying its block's height and time, both when a message arrives and
 * through the CU's `/cron` route; a restarted devnet and a CU with an empty disk agree on every
 * result and on the state.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, createWalletClient, http } from 'viem';
import type { Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { levityChain } from '../../src/chain/index.ts';
import { cronBlocksBetween } from '../../src/protocol/ao/cron.ts';
import { startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { connectAo, eventually, outputText, processTags, tag } from './ao-helpers.ts';
import type { AoKit } from './ao-helpers.ts';

/** Records every tick as height@timestamp; `Count` prints how many, its own height, and the list. */
const BOOT = `Ticks = {}
Handlers.add("tick", "BlockTick", function (msg)
  table.insert(Ticks, string.format("%d@%d", msg["Block-Height"], msg.Timestamp))
  print(string.format("tick %d", msg["Block-Height"]))
end)
Handlers.add("count", "Count", function (msg)
  print(string.format("%d|%d|%s", #Ticks, msg["Block-Height"], table.concat(Ticks, ",")))
end)`;

let dir: string;
let devnet: RunningDevnet;
let kit: AoKit;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-ao-block-cron-'));
  devnet = await startDevnet(join(dir, 'devnet'), [], 120_000);
  kit = await connectAo(devnet.manifest);
});

after(async () => {
  await devnet?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Mines `count` blocks with plain ETH transfers (the devnet automines one block per transaction). */
async function mineBlocks(count: number): Promise<void> {
  const { chain } = devnet.manifest;
  const viemChain = levityChain(chain.chainId, chain.rpc);
  const account = privateKeyToAccount(chain.accounts[7]!.privateKey as Hex);
  const wallet = createWalletClient({ chain: viemChain, transport: http(), account });
  const client = createPublicClient({ chain: viemChain, transport: http(), pollingInterval: 50 });
  for (let i = 0; i < count; i++) {
    const hash = await wallet.sendTransaction({ to: chain.accounts[8]!.address as Hex, value: 1n });
    assert.equal((await client.waitForTransactionReceipt({ hash })).status, 'success');
  }
  // The SU stamps slots with a chain head it caches for up to a second.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
}

async function blockTimestampMs(height: number): Promise<number> {
  const { chain } = devnet.manifest;
  const client = createPublicClient({ chain: levityChain(chain.chainId, chain.rpc), transport: http() });
  return Number((await client.getBlock({ blockNumber: BigInt(height) })).timestamp) * 1000;
}

type Count = { count: number; height: number; ticks: { height: number; timestamp: number }[] };

async function count(pid: string): Promise<{ id: string; output: string; parsed: Count }> {
  const id = await kit.ao.message({ process: pid, signer: kit.signer, tags: [tag('Action', 'Count')] });
  const result = await kit.ao.result({ message: id, process: pid });
  assert.equal(result.Error, undefined, String(result.Error));
  const output = outputText(result).trim();
  const match = /^(\d+)\|(\d+)\|(.*)$/.exec(output);
  assert.ok(match, `a count line, got ${JSON.stringify(output)}`);
  const ticks = match[3] ? match[3].split(',').map((entry) => entry.split('@').map(Number) as [number, number]) : [];
  return { id, output, parsed: { count: Number(match[1]), height: Number(match[2]), ticks: ticks.map(([height, timestamp]) => ({ height: height!, timestamp: timestamp! })) } };
}

type BlockEdge = { cursor: string; node: { id: string; timestamp: number; height: number; previous: string } };

/** Arweave's `blocks` query on the gateway, as any GraphQL client sends it. */
async function gatewayBlocks(variables: Record<string, unknown>): Promise<{ pageInfo: { hasNextPage: boolean }; edges: BlockEdge[] }> {
  const response = await fetch(devnet.manifest.ao!.graphql, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `query ($min: Int, $max: Int, $first: Int, $after: String, $sort: SortOrder) {
        blocks(height: { min: $min, max: $max }, first: $first, after: $after, sort: $sort) {
          pageInfo { hasNextPage } edges { cursor node { id timestamp height previous } } } }`,
      variables,
    }),
  });
  assert.equal(response.status, 200);
  const body = (await response.json()) as { data?: { blocks: { pageInfo: { hasNextPage: boolean }; edges: BlockEdge[] } }; errors?: unknown };
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data!.blocks;
}

async function json<T>(url: string): Promise<T> {
  const response = await fetch(url);
  assert.equal(response.status, 200, `${url}: ${await response.clone().text()}\n${devnet.stderr().slice(-2000)}`);
  return (await response.json()) as T;
}

test("the gateway's blocks query lists every chain block: hash, parent hash and time in seconds", async (t) => {
  const { chain } = devnet.manifest;
  const client = createPublicClient({ chain: levityChain(chain.chainId, chain.rpc), transport: http() });
  const head = Number(await client.getBlockNumber());
  const started = performance.now();
  const page = await gatewayBlocks({ min: 0, first: 100, sort: 'HEIGHT_ASC' });
  t.diagnostic(`blocks(first: 100) over HTTP: ${(performance.now() - started).toFixed(1)} ms; chain head ${head}`);
  assert.deepEqual(page.edges.map((edge) => edge.node.height), Array.from({ length: Math.min(100, head + 1) }, (_, i) => i));
  for (const [i, { node }] of page.edges.entries()) {
    const block = await client.getBlock({ blockNumber: BigInt(node.height) });
    assert.deepEqual(node, { id: block.hash, timestamp: Number(block.timestamp), height: node.height, previous: block.parentHash });
    if (i > 0) assert.equal(node.previous, page.edges[i - 1]!.node.id);
  }
  const newest = await gatewayBlocks({ first: 2 });
  assert.ok(newest.edges[0]!.node.height >= head, 'newest first by default');
  const next = await gatewayBlocks({ min: 0, max: 5, first: 3, sort: 'HEIGHT_ASC', after: page.edges[2]!.cursor });
  assert.deepEqual(next.edges.map((edge) => edge.node.height), [3, 4, 5]);
  assert.equal(next.pageInfo.hasNextPage, false);
});

test('a 2-blocks cron ticks on every second block, through messages and /cron, and every CU agrees', async (t) => {
  const { ao } = devnet.manifest;
  const pid = await kit.ao.spawn({
    module: ao!.modules.lua!,
    scheduler: ao!.scheduler,
    signer: kit.signer,
    tags: processTags(devnet.manifest, [tag('Cron-Interval', '2-blocks'), tag('Cron-Tag-Action', 'BlockTick'), tag('On-Boot', 'Data')]),
    data: BOOT,
  });
  // The MU would poll /cron for this process; the first part checks ticks reached by messages alone.
  await kit.ao.unmonitor({ process: pid, signer: kit.signer });
  const processHeight = Number((await json<{ block: string }>(`${ao!.su}/processes/${pid}`)).block);

  await mineBlocks(7);
  const first = await count(pid);
  const firstHeights = cronBlocksBetween(processHeight, processHeight, first.parsed.height, 2);
  assert.ok(first.parsed.height >= processHeight + 7, `the message is stamped after the mined blocks (${first.parsed.height})`);
  assert.ok(firstHeights.length >= 3);
  assert.equal(first.parsed.count, firstHeights.length, first.output);
  assert.deepEqual(first.parsed.ticks.map((tick) => tick.height), firstHeights);
  for (const tick of first.parsed.ticks) assert.equal(tick.timestamp, await blockTimestampMs(tick.height), `tick ${tick.height} carries its block's time`);

  // /cron ticks up to the chain's present (the SU's height), without a message. A tick waits until
  // the SU's clock is a few seconds past its block's time, and fast-mined blocks run ahead of it.
  await mineBlocks(4);
  const cronStarted = Date.now();
  const cronHeights = await eventually(async () => {
    const page = await json<{ edges: { cursor: string; node: { Output?: unknown } }[] }>(`${ao!.cu}/cron/${pid}?limit=1000`);
    const heights = page.edges
      .map((edge) => Number(/tick (\d+)/.exec(outputText(edge.node as { Output?: unknown }))?.[1]))
      .filter((height) => height > first.parsed.height);
    return heights.length >= 2 ? heights : undefined;
  }, 60_000, 'block ticks through /cron');
  assert.deepEqual(cronHeights, cronBlocksBetween(processHeight, first.parsed.height, cronHeights.at(-1)!, 2));
  t.diagnostic(`process at height ${processHeight}; ticks ${firstHeights.join(',')} by height ${first.parsed.height}; /cron showed ${cronHeights.join(',')} after ${Date.now() - cronStarted} ms`);

  const second = await count(pid);
  const allHeights = cronBlocksBetween(processHeight, processHeight, second.parsed.height, 2);
  assert.equal(second.parsed.count, allHeights.length, second.output);
  assert.deepEqual(second.parsed.ticks.map((tick) => tick.height), allHeights);

  // Memory use depends on how the VM got there (restored or replayed); the state hash does not.
  const stateOf = async (cu: string) => {
    const { hash, ordinate, nonce, blockHeight } = await json<{ hash: string; ordinate: number; nonce: number; blockHeight: number }>(`${cu}/state/${pid}?format=json`);
    return { hash, ordinate, nonce, blockHeight };
  };
  const resultsOf = (cu: string) => json<unknown>(`${cu}/results/${pid}?sort=ASC&limit=1000`);
  const before = await stateOf(ao!.cu);
  const listed = await resultsOf(ao!.cu);

  await devnet.stop();
  devnet = await startDevnet(join(dir, 'devnet'), [], 120_000);
  kit = { ...kit, ...(await connectAo(devnet.manifest)), signer: kit.signer, address: kit.address };
  const cu = devnet.manifest.ao!.cu;
  assert.deepEqual(await stateOf(cu), before, 'a restarted CU resumes at the same state');
  assert.deepEqual(await resultsOf(cu), listed);

  const fresh = await startNode(['--role', 'cu', '--devnet', join(dir, 'devnet'), '--data-dir', join(dir, 'cu2'), '--port-base', '0'], 120_000);
  try {
    const cu2 = fresh.endpoints.find((endpoint) => endpoint.role === 'cu')!.url;
    for (const message of [first, second]) {
      const result = await json<{ Output?: unknown }>(`${cu2}/result/${message.id}?process-id=${pid}`);
      assert.equal(outputText(result).trim(), message.output, 'an empty-disk CU computes the same ticks from the SU log and the gateway');
    }
    assert.deepEqual(await stateOf(cu2), before, 'and the same state');
    assert.deepEqual(await resultsOf(cu2), listed, 'and lists the same results under the same cursors');
  } finally {
    await fresh.stop();
  }
});
