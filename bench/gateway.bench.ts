/**
 * Levity's gateway next to arlocal 1.1.66: how fast each takes signed ANS-104 items until they
 * are queryable, and GraphQL latency once both hold BENCH_GATEWAY_ITEMS items (default 100k).
 *
 * The same pre-signed ed25519 items (≈200 B of data, tags Bench-Run, Seq, Content-Type) go to
 * both. Levity takes them one per `POST /tx`, 16 in flight. arlocal has no data-item endpoint:
 * its path is 1000-item ANS-104 bundles, each posted as an L1 transaction, then a block mined.
 * The systems run one after the other, never side by side, so neither steals the other's CPU.
 * Both keep their data under os.tmpdir(): both fsync their sqlite commits, so the disk there
 * sets much of arlocal's pace (TMPDIR=/dev/shm puts both in RAM, which helps arlocal most).
 *
 * `BENCH_GATEWAY_ITEMS=2000 node bench/gateway.bench.ts` for a quick run.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer, toB64Url } from '../src/protocol/ans104/index.ts';
import { postBundle, startArlocal } from './arlocal.ts';
import { report } from './report.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';

const ITEMS = Number(process.env.BENCH_GATEWAY_ITEMS ?? 100_000);
const CONCURRENCY = 16;
const BUNDLE_ITEMS = 1000;
/** Bundles in flight to arlocal: one at a time is its best; two in flight took twice as long per item. */
const BUNDLE_CONCURRENCY = 1;
const QUERIES = 200;
const WARMUP_QUERIES = 10;
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

async function graphql(url: string, query: string, variables: Record<string, unknown>): Promise<string[]> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as Edges;
  const edges = body.data?.transactions?.edges;
  if (!response.ok || !edges) throw new Error(`GraphQL at ${url}: HTTP ${response.status} ${JSON.stringify(body).slice(0, 500)}`);
  return edges.map((edge) => edge.node.id);
}

/** Finds item `seq` by its Seq tag; throws unless exactly that item comes back. */
async function findBySeq(url: string, items: readonly Item[], seq: number): Promise<void> {
  const ids = await graphql(url, TAG_QUERY, { seq: String(seq) });
  if (ids.length !== 1 || ids[0] !== items[seq]!.id) throw new Error(`Seq ${seq}: expected [${items[seq]!.id}], got ${JSON.stringify(ids)}`);
}

/**
 * Sequential queries, half by Seq tag and half by 10 ids, each answer checked (an empty answer
 * is fast and wrong). The random picks are the same for both systems.
 */
async function measureGraphql(url: string, infoUrl: string, items: readonly Item[], picks: readonly number[][]): Promise<Latency> {
  const run = async (pick: readonly number[], byTag: boolean) => {
    const start = process.hrtime.bigint();
    if (byTag) {
      await findBySeq(url, items, pick[0]!);
    } else {
      const want = pick.map((index) => items[index]!.id);
      const got = await graphql(url, IDS_QUERY, { ids: want });
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
    const response = await fetch(infoUrl);
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${infoUrl}: HTTP ${response.status}`);
    if (i >= WARMUP_QUERIES) floor.push(seconds(start) * 1000);
  }
  const all = [...tag, ...ids].sort((a, b) => a - b);
  const median = (values: number[]) => percentile(values.sort((a, b) => a - b), 50);
  return { p50: percentile(all, 50), p95: percentile(all, 95), tagP50: median(tag), idsP50: median(ids), floorP50: median(floor) };
}

async function benchLevity(dir: string, items: readonly Item[], picks: readonly number[][]): Promise<SystemResult> {
  const devnet = await startDevnet(dir, [], 120_000);
  try {
    const ao = devnet.manifest.ao;
    if (!ao) throw new Error('levity up wrote no `ao` section in its manifest: the AO roles are not running');
    const start = process.hrtime.bigint();
    await pool(items.length, CONCURRENCY, async (index) => {
      const item = items[index]!;
      const response = await fetch(`${ao.gateway}/tx`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: item.raw });
      const text = await response.text();
      if (!response.ok || (JSON.parse(text) as { id?: string }).id !== item.id) throw new Error(`POST /tx item ${index}: HTTP ${response.status} ${text.slice(0, 300)}`);
    });
    const posted = seconds(start);
    await findBySeq(ao.graphql, items, items.length - 1);
    const ingest = items.length / seconds(start);
    return { ingest, posted: items.length / posted, detail: `posting ${posted.toFixed(1)} s`, graphql: await measureGraphql(ao.graphql, `${ao.gateway}/info`, items, picks) };
  } finally {
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
    const graphqlUrl = `${arlocal.url}/graphql`;

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
    await findBySeq(graphqlUrl, items, items.length - 1);
    const ingest = items.length / seconds(start);
    const detail = `posting ${posted.toFixed(1)} s, /mine ${mined.toFixed(1)} s`;
    return { ingest, posted: items.length / posted, detail, graphql: await measureGraphql(graphqlUrl, `${arlocal.url}/info`, items, picks) };
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
  start = process.hrtime.bigint();
  const levity = await benchLevity(join(dir, 'levity'), items, picks);
  process.stderr.write(`levity done in ${seconds(start).toFixed(1)} s: ${JSON.stringify(levity)}\n`);

  const bench = 'gateway';
  const shapes = (l: Latency) => `${QUERIES} sequential queries after ${WARMUP_QUERIES} warm-up, half Seq-tag (p50 ${l.tagP50.toFixed(2)} ms), half ${IDS_PER_QUERY} ids (p50 ${l.idsP50.toFixed(2)} ms); GET /info p50 ${l.floorP50.toFixed(2)} ms`;
  const common = `${ITEMS} ed25519 items, ${itemBytes} B each; time until the last one answers a GraphQL tag query`;
  report({ bench, name: 'ingest, Levity POST /tx', value: levity.ingest, unit: 'items/s', note: `${common}; one item per request, ${CONCURRENCY} in flight; every signature verified, durable commit before each answer; ${levity.detail}` });
  report({ bench, name: 'ingest, arlocal 1.1.66', value: arlocal.ingest, unit: 'items/s', note: `${common}; ${BUNDLE_ITEMS}-item bundles (encodeBundle + arweave-js createTransaction/sign, timed) posted as L1 txs one at a time, then /mine; ${arlocal.detail}; items are indexed at post with no signature check, /mine re-reads every bundle and verifies its items` });
  report({ bench, name: 'ingest, arlocal 1.1.66 without /mine', value: arlocal.posted, unit: 'items/s', note: 'posting alone: arlocal answers GraphQL for bundled items before any block (with block null)' });
  const vsPosted = `${(levity.ingest / arlocal.posted).toFixed(1)}× against arlocal without /mine`;
  report({ bench, name: 'ingest, Levity ÷ arlocal', value: levity.ingest / arlocal.ingest, unit: '×', target: '≥ 10×', note: vsPosted });
  for (const [name, result] of [['Levity', levity], ['arlocal 1.1.66', arlocal]] as const) {
    report({ bench, name: `GraphQL p50 at ${count} items, ${name}`, value: result.graphql.p50, unit: 'ms', note: shapes(result.graphql) });
    report({ bench, name: `GraphQL p95 at ${count} items, ${name}`, value: result.graphql.p95, unit: 'ms' });
  }
  report({ bench, name: `GraphQL p50 at ${count} items, arlocal ÷ Levity`, value: arlocal.graphql.p50 / levity.graphql.p50, unit: '×', target: '≥ 10×', note: `how many times lower Levity's p50 is; less the GET /info round trip of each, ${((arlocal.graphql.p50 - arlocal.graphql.floorP50) / (levity.graphql.p50 - levity.graphql.floorP50)).toFixed(1)}×` });
} finally {
  await rm(dir, { recursive: true, force: true });
}
