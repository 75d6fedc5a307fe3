import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Hex } from 'viem';
import {
  batchDataLength,
  batchSegment,
  decodeSegmentBatch,
  encodeSegmentBatch,
  fileTree,
  loadKeccak,
  loadSegmentHasher,
  SEGMENT_BATCH_CONTENT_TYPE,
  SEGMENT_SIZE,
  segmentCount,
  segmentProver,
  vectorData,
  verifySegment,
} from '../protocol/storage/index.ts';
import { createRoleApp } from '../shared/http.ts';
import { createLogger } from '../shared/log.ts';
import { fsSegmentStore } from './fs-segment-store.ts';
import { createSegmentRootPool } from '../sdk/storage/segment-root-pool.ts';
import { mountSegmentRoutes } from './segment-routes.ts';
import { createStorageService } from './storage-service.ts';
import { sqliteTxStore } from './tx-store.ts';

const keccak = await loadKeccak();
const SIZE = 5 * SEGMENT_SIZE + 4321;
const file = vectorData(SIZE);
const tree = fileTree(keccak, file);
const prove = segmentProver(keccak, tree.segmentRoots);
const COUNT = segmentCount(SIZE);

/** A batch of segments first … first+count-1 of `file`, optionally with one byte of one segment flipped. */
function batch(first: number, count: number, corrupt?: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(batchDataLength(SIZE, first, count));
  data.set(file.subarray(first * SEGMENT_SIZE, Math.min(SIZE, (first + count) * SEGMENT_SIZE)));
  if (corrupt !== undefined) data[(corrupt - first) * SEGMENT_SIZE + 7]! ^= 1;
  const proofs = Array.from({ length: count }, (_, k) => prove(first + k));
  return encodeSegmentBatch({ root: tree.rootHex, fileSize: SIZE, first, proofs, data }) as Uint8Array<ArrayBuffer>;
}

type Error = { error: { code: string; message: string } };

for (const threads of [0, 1]) {
  describe(`segment batch routes (${threads} hashing threads)`, () => {
    let dir: string;
    let close: () => Promise<void>;
    let app: ReturnType<typeof createRoleApp>['app'];
    let service: ReturnType<typeof createStorageService>;
    let store: ReturnType<typeof sqliteTxStore>;
    /** Submissions the "chain" has, which the node learns when it syncs. */
    const chain: Parameters<ReturnType<typeof sqliteTxStore>['addSynced']>[0][number][] = [];
    let syncs = 0;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'levity-segment-routes-'));
      store = sqliteTxStore(join(dir, 'meta.sqlite'));
      const segments = fsSegmentStore({ dir: join(dir, 'segments') });
      const rootPool = createSegmentRootPool({ threads });
      const syncNow = async () => {
        syncs++;
        store.addSynced(chain.splice(0), 1);
      };
      service = createStorageService({ store, segments, keccak, shard: { shardId: 0, numShard: 1 }, hasher: await loadSegmentHasher(), rootPool, syncNow });
      ({ app } = createRoleApp({ role: 'storage-node', log: createLogger({ level: 'silent' }) }));
      mountSegmentRoutes(app, service);
      // Two submissions of the file: seq 0 is known from the start, seq 1 only once the node syncs.
      const tx = { root: tree.rootHex, size: SIZE, startEntryIndex: 1024, merkleNodes: [], blockNumber: 1 };
      store.addSynced([{ ...tx, seq: 0 }], 1);
      chain.push({ ...tx, seq: 1, startEntryIndex: 1024 * 16 });
      close = async () => {
        await rootPool.close();
        await segments.close();
        store.close();
      };
    });
    after(async () => {
      await close();
      await rm(dir, { recursive: true, force: true });
    });

    const post = (seq: number | string, body: Uint8Array<ArrayBuffer>) =>
      app.request(`/levity/v1/tx/${seq}/segments`, { method: 'POST', headers: { 'content-type': SEGMENT_BATCH_CONTENT_TYPE, 'content-length': String(body.length) }, body });

    it('says what it speaks', async () => {
      const response = await app.request('/levity/v1/info');
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { protocol: 'levity-storage', version: 1, maxBatchSegments: 256, shard: { shardId: 0, numShard: 1 } });
    });

    it('refuses malformed requests with a typed 4xx, storing nothing', async () => {
      const cases: [Response, number, string][] = [
        [await post('abc', batch(0, 1)), 400, 'STORAGE_INVALID_PARAMS'],
        [await post(0, new Uint8Array([1, 2, 3])), 400, 'STORAGE_BATCH_MALFORMED'],
        [await post(0, batch(0, 2).subarray(0, 100).slice()), 400, 'STORAGE_BATCH_MALFORMED'],
        [await app.request('/levity/v1/tx/0/segments', { method: 'POST', body: batch(0, 1) }), 400, 'STORAGE_LENGTH_REQUIRED'],
        [await app.request('/levity/v1/tx/0/segments', { method: 'POST', headers: { 'content-length': String(2 ** 40) }, body: batch(0, 1) }), 413, 'HTTP_BODY_TOO_LARGE'],
        [await app.request('/levity/v1/tx/0/segments?first=x'), 400, 'STORAGE_INVALID_PARAMS'],
        [await app.request('/levity/v1/tx/0/segments?first=0&count=0'), 400, 'STORAGE_INVALID_PARAMS'],
        [await app.request('/levity/v1/tx/0/segments?first=0&count=999'), 400, 'STORAGE_INVALID_PARAMS'],
        [await app.request('/levity/v1/tx/0/segments?first=4&count=3'), 400, 'STORAGE_INDEX_OUT_OF_BOUND'],
        [await app.request('/levity/v1/tx/0/segments?first=0&count=1'), 404, 'STORAGE_SEGMENT_MISSING'],
        [await app.request('/levity/v1/tx/77/segments?first=0&count=1'), 404, 'STORAGE_TX_UNKNOWN'],
      ];
      for (const [response, status, code] of cases) {
        assert.equal(response.status, status, code);
        assert.equal(((await response.json()) as Error).error.code, code);
      }
      assert.equal(store.bySeq(0)!.uploadedSegments, 0);
    });

    it('checks every segment before storing any: a corrupted one fails the whole batch', async () => {
      const response = await post(0, batch(0, 3, 1));
      assert.equal(response.status, 400);
      const { error } = (await response.json()) as Error;
      assert.equal(error.code, 'STORAGE_INVALID_PROOF');
      assert.equal(error.message, 'validation failed');
      assert.equal(store.bySeq(0)!.uploadedSegments, 0);
    });

    it('refuses a batch for another file or size, as the JSON-RPC path does', async () => {
      const other = fileTree(keccak, vectorData(SIZE - 1));
      const wrongSize = encodeSegmentBatch({ ...decodeSegmentBatch(batch(0, 1)), root: other.rootHex, fileSize: SIZE - 1, proofs: [segmentProver(keccak, other.segmentRoots)(0)] });
      const response = await post(0, wrongSize as Uint8Array<ArrayBuffer>);
      assert.equal(response.status, 400);
      assert.match(((await response.json()) as Error).error.message, /data root and tx seq not match/);
    });

    it('stores good batches, skips repeats, and finalizes with the last one', async () => {
      const first = await post(0, batch(0, 2));
      assert.equal(first.status, 200);
      assert.deepEqual(await first.json(), { stored: 2, uploadedSegNum: 2, finalized: false });
      const again = await post(0, batch(1, 2));
      assert.deepEqual(await again.json(), { stored: 1, uploadedSegNum: 3, finalized: false });
      // The rest concurrently: they share flushes and commits, and one of them finalizes.
      const answers = await Promise.all([post(0, batch(3, 1)), post(0, batch(4, 1)), post(0, batch(5, 1))]);
      const bodies = (await Promise.all(answers.map((a) => a.json()))) as { stored: number; finalized: boolean }[];
      assert.deepEqual(bodies.map((b) => b.stored), [1, 1, 1]);
      assert.ok(bodies.some((b) => b.finalized));
      assert.equal(store.bySeq(0)!.finalized, true);
      const late = await post(0, batch(0, 1));
      assert.equal(late.status, 409);
      assert.match(((await late.json()) as Error).error.message, /already uploaded and finalized/);
    });

    it('serves stored segments back as a batch that verifies against the root', async () => {
      const response = await app.request(`/levity/v1/tx/0/segments?first=0&count=${COUNT}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), SEGMENT_BATCH_CONTENT_TYPE);
      const decoded = decodeSegmentBatch(new Uint8Array(await response.arrayBuffer()));
      assert.equal(decoded.root, tree.rootHex);
      for (let k = 0; k < COUNT; k++) {
        verifySegment(keccak, { root: tree.rootHex as Hex, data: batchSegment(decoded, k), index: k, proof: decoded.proofs[k]!, fileSize: SIZE });
      }
      const padded = new Uint8Array(batchDataLength(SIZE, 0, COUNT));
      padded.set(file);
      assert.deepEqual(decoded.data, padded);
    });

    it('reads the chain for a tx seq it has not seen before refusing the batch', async () => {
      const before = syncs;
      const response = await post(1, batch(0, 1));
      assert.equal(response.status, 200);
      assert.equal(syncs, before + 1);
      const unknown = await post(9, batch(0, 1));
      assert.equal(unknown.status, 404);
      assert.match(((await unknown.json()) as Error).error.message, /no submission with tx seq 9/);
    });
  });
}
