/**
 * Levity's gateway next to arlocal 1.1.66: how fast each takes signed ANS-104 items until they
 * are queryable, and GraphQL latency once both hold BENCH_GATEWAY_ITEMS items (default 100k).
 *
 * The same pre-signed ed25519 items (≈200 B of data, tags Bench-Run, Seq, Content-Type) go to
 * both. arlocal has no data-item endpoint: its path is 1000-item ANS-104 bundles, each posted as
 * an L1 transaction, then a block mined. Levity is measured on the same path, like for like:
 * 1000-item bundles, each posted as a signed ed25519 data item tagged as a nested bundle
 * (`POST /tx`; the gateway verifies the outer item and every item inside, and indexes them all
 * in one durable commit), building and signing each bundle inside the timed span as for arlocal.
 * Levity's one-item-per-`POST /tx` path (16 in flight) is measured as well, on a fresh devnet.
 * GraphQL is timed at rest on both: arlocal after /mine, Levity once every acknowledged item is
 * in a bundle in Levity storage (the gateway's background upload would otherwise share the CPU),
 * each after the same warm-up queries.
 * The systems run one after the other, never side by side, so neither steals the other's CPU.
 * Both keep their data under os.tmpdir(): both fsync their sqlite commits, so the disk there
 * sets much of arlocal's pace (TMPDIR=/dev/shm puts both in RAM, which helps arlocal most).
 * Every request the bench makes to either system (except arlocal's own client for its L1 posts)
 * goes through one lean node:http keep-alive client (see lean-http.ts).
 *
 * `BENCH_GATEWAY_ITEMS=2000 node bench/gateway.bench.ts` for a quick run.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer, encodeBundle, toB64Url } from '../src/protocol/ans104/index.ts';
import type { DataItemSigner } from '../src/protocol/ans104/index.ts';
import { postBundle, startArlocal } from './arlocal.ts';
import { leanClient } from './lean-http.ts';
import type { LeanClient } from './lean-http.ts';
import { report } from './report.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';

const ITEMS = Number(process.env.BENCH_GATEWAY_ITEMS ?? 100_000);
const CONCURRENCY = 16;
const BUNDLE_ITEMS = 1000;
/** Bundles in flight to arlocal: one at a time is its best; two in flight took twice as long per item. */
const BUNDLE_CONCURRENCY = 1;
/** Bundles in flight to Levity: one is verified while the next is built, sent and committed. */
const LEVITY_BUNDLE_CONCURRENCY = Number(process.env.BENCH_GATEWAY_BUNDLES_IN_FLIGHT ?? 2);
const QUERIES = 200;
/**
 * Enough for V8 to optimise each server's HTTP and query path: after a bundle ingest (a few
 * dozen requests) 10 or 200 warm-up queries left Levity's half-warm, ~0.1 ms slower a query.
 */
const WARMUP_QUERIES = 2000;
const IDS_PER_QUERY = 10;
if (!Number.isSafeInteger(ITEMS) || ITEMS < IDS_PER_QUERY) throw new Error(`BENCH_GATEWAY_ITEMS must be an integer ≥ ${IDS_PER_QUERY}`);

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const count = ITEMS >= 1000 && ITEMS % 1000 === 0 ? `${ITEMS / 1000}k` : String(ITEMS);

type Item = { id: string; raw: Uint8Array };
/** `floorP50`: a `GET /info` round trip, what HTTP and the client cost before any query work. */
type Latency = { p50: number; p95: number; tagP50: number; idsP50: number; floorP50: number };
/** `posted`: items/s counting only the posting (Levity: the same as `ingest`). */
type SystemResult = { ingest: number; posted: number; detail: string; graphql: Latency };

/** Runs `task` over 0..n-1 with at most `width` calls in flight. */
async function pool(n: number, width: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
}

/** Nearest-rank percentile. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const NODE_FIELDS = 'id owner { address } tags { name value } block { height }';
const TAG_QUERY = `query BySeq($seq: String!) {
  transactions(tags: [{ name: "Seq", values: [$seq] }], first: 10) { edges { node { ${NODE_FIELDS} } } }
}`;
const IDS_QUERY = `query ByIds($ids: [ID!]) {
  transactions(ids: $ids, first: ${IDS_PER_QUERY}) { edges { node { ${NODE_FIELDS} } } }
}`;

type Edges = { data?: { transactions?: { edges?: { node: { id: string } }[] } }; errors?: unknown };

async function graphql(client: LeanClient, query: string, variables: Record<string, unknown>): Promise<string[]> {
  const { status, body } = await client.postJson<Edges>('/graphql', { query, variables });
  const edges = body.data?.transactions?.edges;
  if (status !== 200 || !edges) throw new Error(`GraphQL: HTTP ${status} ${JSON.stringify(body).slice(0, 500)}`);
  return edges.map((edge) => edge.node.id);
}

/** Finds item `seq` by its Seq tag; throws unless exactly that item comes back. */
async function findBySeq(client: LeanClient, items: readonly Item[], seq: number): Promise<void> {
  const ids = await graphql(client, TAG_QUERY, { seq: String(seq) });
  if (ids.length !== 1 || ids[0] !== items[seq]!.id) throw new Error(`Seq ${seq}: expected [${items[seq]!.id}], got ${JSON.stringify(ids)}`);
}

/**
 * Sequential queries, half by Seq tag and half by 10 ids, each answer checked (an empty answer
 * is fast and wrong). The random picks are the same for both systems.
 */
async function measureGraphql(client: LeanClient, items: readonly Item[], picks: readonly number[][]): Promise<Latency> {
  const run = async (pick: readonly number[], byTag: boolean) => {
    const start = process.hrtime.bigint();
    if (byTag) {
      await findBySeq(client, items, pick[0]!);
    } else {
      const want = pick.map((index) => items[index]!.id);
      const got = await graphql(client, IDS_QUERY, { ids: want });
      if (got.length !== want.length || !want.every((id) => got.includes(id))) throw new Error(`ids query: asked ${want.length}, got ${got.length}`);
    }
    return seconds(start) * 1000;
  };
  for (let i = 0; i < WARMUP_QUERIES; i++) await run(picks[i]!, i % 2 === 0);
  const tag: number[] = [];
  const ids: number[] = [];
  for (let i = 0; i < QUERIES; i++) (i % 2 === 0 ? tag : ids).push(await run(picks[WARMUP_QUERIES + i]!, i % 2 === 0));
  const floor: number[] = [];
  for (let i = 0; i < WARMUP_QUERIES + QUERIES / 2; i++) {
    const start = process.hrtime.bigint();
    const response = await client.get('/info');
    if (response.status !== 200) throw new Error(`/info: HTTP ${response.status}`);
    if (i >= WARMUP_QUERIES) floor.push(seconds(start) * 1000);
  }
  const all = [...tag, ...ids].sort((a, b) => a - b);
  const median = (values: number[]) => percentile(values.sort((a, b) => a - b), 50);
  return { p50: percentile(all, 50), p95: percentile(all, 95), tagP50: median(tag), idsP50: median(ids), floorP50: median(floor) };
}

/** Builds one nested-bundle data item: the bundle of `slice`, signed by `signer` (timed as part of ingest). */
async function bundleItem(signer: DataItemSigner, slice: readonly Item[]): Promise<{ id: string; raw: Uint8Array }> {
  const tags = [
    { name: 'Bundle-Format', value: 'binary' },
    { name: 'Bundle-Version', value: '2.0.0' },
  ];
  return createDataItem({ signer, tags, data: encodeBundle(slice.map((item) => item.raw)) });
}

type IngestPath = 'bundles' | 'items';

async function benchLevity(dir: string, path: IngestPath, items: readonly Item[], picks: readonly number[][], bundler: DataItemSigner): Promise<SystemResult> {
  const devnet = await startDevnet(dir, [], 120_000);
  const ao = devnet.manifest.ao;
  if (!ao) throw new Error('levity up wrote no `ao` section in its manifest: the AO roles are not running');
  const gateway = leanClient(ao.gateway, CONCURRENCY);
  const graphqlClient = leanClient(ao.graphql.replace(/\/graphql$/, ''), 1);
  try {
    const start = process.hrtime.bigint();
    const post = async (what: string, raw: Uint8Array, id: string, nested?: number) => {
      const response = await gateway.post('/tx', raw, 'application/octet-stream');
      const text = response.body.toString('utf8');
      const reply = response.status === 200 ? (JSON.parse(text) as { id?: string; nested?: number }) : {};
      if (reply.id !== id || reply.nested !== nested) throw new Error(`POST /tx ${what}: HTTP ${response.status} ${text.slice(0, 300)}`);
    };
    if (path === 'items') {
      await pool(items.length, CONCURRENCY, (index) => post(`item ${index}`, items[index]!.raw, items[index]!.id));
    } else {
      await pool(Math.ceil(items.length / BUNDLE_ITEMS), LEVITY_BUNDLE_CONCURRENCY, async (index) => {
        const slice = items.slice(index * BUNDLE_ITEMS, (index + 1) * BUNDLE_ITEMS);
        const outer = await bundleItem(bundler, slice);
        await post(`bundle ${index}`, outer.raw, outer.id, slice.length);
      });
    }
    const posted = seconds(start);
    await findBySeq(graphqlClient, items, items.length - 1);
    const ingest = items.length / seconds(start);
    // Queries are timed at rest, as arlocal's are after /mine: once the gateway has put every
    // item it acknowledged into a bundle in Levity storage (background work, not in the ingest rate).
    const settled = process.hrtime.bigint();
    for (;;) {
      const info = JSON.parse((await gateway.get('/info')).body.toString('utf8')) as { pendingItems: number };
      if (info.pendingItems === 0) break;
      if (seconds(settled) > 300) throw new Error(`the gateway still had ${info.pendingItems} items to bundle after 300 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const detail = `posting ${posted.toFixed(1)} s; everything in storage bundles ${seconds(settled).toFixed(1)} s later`;
    return { ingest, posted: items.length / posted, detail, graphql: await measureGraphql(graphqlClient, items, picks) };
  } finally {
    gateway.close();
    graphqlClient.close();
    await devnet.stop();
  }
}

async function benchArlocal(dir: string, items: readonly Item[], itemOwner: Uint8Array, picks: readonly number[][]): Promise<SystemResult> {
  const arlocal = await startArlocal(dir);
  try {
    const jwk = await arlocal.arweave.wallets.generate();
    await arlocal.mint(await arlocal.arweave.wallets.jwkToAddress(jwk), 10n ** 18n);
    // arlocal drops (silently) bundled items whose owner has no wallet.
    await arlocal.mint(toB64Url(createHash('sha256').update(itemOwner).digest()), 1n);
    const client = leanClient(arlocal.url, 1);

    const start = process.hrtime.bigint();
    const bundles = Math.ceil(items.length / BUNDLE_ITEMS);
    await pool(bundles, BUNDLE_CONCURRENCY, async (index) => {
      const slice = items.slice(index * BUNDLE_ITEMS, (index + 1) * BUNDLE_ITEMS).map((item) => item.raw);
      await postBundle(arlocal.arweave, jwk, slice);
      if ((index + 1) % 10 === 0) process.stderr.write(`arlocal: ${(index + 1) * BUNDLE_ITEMS} items in ${seconds(start).toFixed(0)} s\n`);
    });
    const posted = seconds(start);
    await arlocal.mine();
    const mined = seconds(start) - posted;
    await findBySeq(client, items, items.length - 1);
    const ingest = items.length / seconds(start);
    const detail = `posting ${posted.toFixed(1)} s, /mine ${mined.toFixed(1)} s`;
    const graphql = await measureGraphql(client, items, picks);
    client.close();
    return { ingest, posted: items.length / posted, detail, graphql };
  } finally {
    await arlocal.stop();
  }
}

const dir = await mkdtemp(join(tmpdir(), 'levity-bench-gateway-'));
try {
  const signer = ed25519Signer(randomBytes(32));
  const run = randomUUID();
  let start = process.hrtime.bigint();
  const items: Item[] = [];
  for (let seq = 0; seq < ITEMS; seq++) {
    const tags = [
      { name: 'Bench-Run', value: run },
      { name: 'Seq', value: String(seq) },
      { name: 'Content-Type', value: 'application/octet-stream' },
    ];
    const item = await createDataItem({ signer, tags, data: randomBytes(200) });
    items.push({ id: item.id, raw: item.raw });
  }
  const signRate = ITEMS / seconds(start);
  const itemBytes = Math.round(items.reduce((sum, item) => sum + item.raw.length, 0) / ITEMS);
  process.stderr.write(`signed ${ITEMS} items (${itemBytes} B each) at ${signRate.toFixed(0)}/s\n`);
  const random = () => Math.floor(Math.random() * ITEMS);
  const picks = Array.from({ length: WARMUP_QUERIES + QUERIES }, (_, i) =>
    i % 2 === 0 ? [random()] : [...new Set(Array.from({ length: IDS_PER_QUERY * 2 }, random))].slice(0, IDS_PER_QUERY),
  );

  await mkdir(join(dir, 'arlocal'));
  start = process.hrtime.bigint();
  const arlocal = await benchArlocal(join(dir, 'arlocal'), items, signer.publicKey, picks);
  process.stderr.write(`arlocal done in ${seconds(start).toFixed(1)} s: ${JSON.stringify(arlocal)}\n`);
  const bundler = ed25519Signer(randomBytes(32));
  const levity: Partial<Record<IngestPath, SystemResult>> = {};
  for (const path of ['bundles', 'items'] as const) {
    start = process.hrtime.bigint();
    levity[path] = await benchLevity(join(dir, `levity-${path}`), path, items, picks, bundler);
    process.stderr.write(`levity (${path}) done in ${seconds(start).toFixed(1)} s: ${JSON.stringify(levity[path])}\n`);
  }
  const bundles = levity.bundles!;
  const single = levity.items!;

  const bench = 'gateway';
  const shapes = (l: Latency) => `${QUERIES} sequential queries after ${WARMUP_QUERIES} warm-up, half Seq-tag (p50 ${l.tagP50.toFixed(2)} ms), half ${IDS_PER_QUERY} ids (p50 ${l.idsP50.toFixed(2)} ms); GET /info p50 ${l.floorP50.toFixed(2)} ms; node:http keep-alive client`;
  const common = `${ITEMS} ed25519 items, ${itemBytes} B each; time until the last one answers a GraphQL tag query`;
  report({ bench, name: `bundle ingest, Levity (${BUNDLE_ITEMS}-item bundles)`, value: bundles.ingest, unit: 'items/s', note: `${common}; each bundle built (encodeBundle) and signed as an ed25519 data item tagged Bundle-Format binary / Bundle-Version 2.0.0 (timed), POST /tx, ${LEVITY_BUNDLE_CONCURRENCY} in flight; outer and every nested signature verified, all indexed in one durable commit before the answer; ${bundles.detail}` });
  report({ bench, name: 'ingest, arlocal 1.1.66', value: arlocal.ingest, unit: 'items/s', note: `${common}; ${BUNDLE_ITEMS}-item bundles (encodeBundle + arweave-js createTransaction/sign, timed) posted as L1 txs one at a time, then /mine; ${arlocal.detail}; items are indexed at post with no signature check, /mine re-reads every bundle and verifies its items` });
  report({ bench, name: 'ingest, arlocal 1.1.66 without /mine', value: arlocal.posted, unit: 'items/s', note: 'posting alone: arlocal answers GraphQL for bundled items before any block (with block null)' });
  report({ bench, name: 'ingest, Levity ÷ arlocal (bundles)', value: bundles.ingest / arlocal.ingest, unit: '×', target: '≥ 10×', note: `${(bundles.ingest / arlocal.posted).toFixed(1)}× against arlocal without /mine` });
  report({ bench, name: 'ingest, Levity POST /tx (one item per request)', value: single.ingest, unit: 'items/s', note: `${common}; one item per request, ${CONCURRENCY} in flight over a node:http keep-alive client; every signature verified, durable commit before each answer; ${single.detail}` });
  report({ bench, name: 'ingest, Levity one item per request ÷ arlocal bundles', value: single.ingest / arlocal.ingest, unit: '×', note: `${(single.ingest / arlocal.posted).toFixed(1)}× against arlocal without /mine` });
  for (const [name, result] of [['Levity', bundles], ['arlocal 1.1.66', arlocal]] as const) {
    const extra = result === bundles ? ` (after bundle ingest; after one-item ingest p50 ${single.graphql.p50.toFixed(2)} ms)` : '';
    report({ bench, name: `GraphQL p50 at ${count} items, ${name}`, value: result.graphql.p50, unit: 'ms', note: shapes(result.graphql) + extra });
    report({ bench, name: `GraphQL p95 at ${count} items, ${name}`, value: result.graphql.p95, unit: 'ms' });
  }
  report({ bench, name: `GraphQL p50 at ${count} items, arlocal ÷ Levity`, value: arlocal.graphql.p50 / bundles.graphql.p50, unit: '×', target: '≥ 10×', note: `how many times lower Levity's p50 is; less the GET /info round trip of each, ${((arlocal.graphql.p50 - arlocal.graphql.floorP50) / (bundles.graphql.p50 - bundles.graphql.floorP50)).toFixed(1)}×` });
} finally {
  await rm(dir, { recursive: true, force: true });
}
