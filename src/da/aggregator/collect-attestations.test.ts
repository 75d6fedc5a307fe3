/**
 * Streaming dispersal against three real node services reached through their HTTP routes (Hono's app.request, no
 * sockets, a fixed committee instead of a chain). Cells are handed to the disperser blob by blob through promises
 * the test resolves, so it can check what goes out when.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Hono } from 'hono';
import type { Address } from 'viem';
import { blsKeyFromSeed, blsVerify } from '../../protocol/da/bls.ts';
import { attestationMessage, blobSeed, epochSeed } from '../../protocol/da/certificate.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import { blobCommitment, computeCellsAndProofs } from '../../protocol/da/kzg.ts';
import { payloadToBlobs } from '../../protocol/da/payload-blobs.ts';
import type { Committee, DaDomain } from '../../protocol/da/types.ts';
import { createLogger } from '../../shared/log.ts';
import { createCommitteeCache } from '../node/committee.ts';
import { openDaStore } from '../node/da-store.ts';
import type { DaStore } from '../node/da-store.ts';
import { createDaNodeService } from '../node/da-service.ts';
import { mountDaNodeRoutes } from '../node/node-routes.ts';
import type { BlobCells } from '../encoder-pool.ts';
import { collectAttestations } from './collect-attestations.ts';
import type { CollectOptions } from './collect-attestations.ts';

const log = createLogger({ level: 'silent' });
const domain: DaDomain = { chainId: 31337, contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const keys = [21, 22, 23].map((i) => blsKeyFromSeed(new Uint8Array(32).fill(i)));
const addresses: Address[] = ['0x1000000000000000000000000000000000000001', '0x2000000000000000000000000000000000000002', '0x3000000000000000000000000000000000000003'];
const committee: Committee = {
  epoch: 9n,
  replication: 2,
  members: addresses.map((address, index) => ({ index, address, url: `http://node-${index}`, stake: 10n ** 18n, publicKey: keys[index]!.publicKey })),
};

type Deferred = { promise: Promise<BlobCells>; resolve: (cells: BlobCells) => void; reject: (error: unknown) => void };
const deferred = (): Deferred => {
  let resolve!: (cells: BlobCells) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<BlobCells>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('streaming dispersal', () => {
  let dir: string;
  let encoded: (BlobCells & { commitment: Uint8Array })[];
  let stores: DaStore[] = [];
  let apps: Hono[] = [];
  let round = 0;

  /** Fresh nodes (own stores) for each test; `tamper` corrupts the cells one node receives. */
  const nodes = async (tamper?: number) => {
    round++;
    stores = [];
    apps = [];
    for (const [index, address] of addresses.entries()) {
      const store = openDaStore({ path: join(dir, `r${round}-n${index}.sqlite`) });
      stores.push(store);
      const service = createDaNodeService(
        { domain, maxPayloadBytes: 16 * 1024 * 1024, verifyChunkCells: 512, storeChunkCells: 512, sessionIdleMs: 60_000, maxSessions: 4 },
        { store, committee: createCommitteeCache(async () => committee), address, bls: keys[index]!, log },
      );
      const app = new Hono();
      mountDaNodeRoutes(app, { service, log, maxBodyBytes: 64 * 1024 * 1024 });
      apps.push(app);
    }
    const fetchNode = async (url: string, init?: RequestInit) => {
      const index = Number(/node-(\d)/.exec(url)![1]);
      if (index === tamper && url.endsWith('/cells') && init?.body instanceof Uint8Array) {
        const body = new Uint8Array(init.body);
        const at = body.length - 48 - 100; // a byte inside the last cell's data
        body[at] = body[at]! ^ 1;
        return apps[index]!.request(url, { ...init, body });
      }
      return apps[index]!.request(url, init);
    };
    return fetchNode as typeof fetch;
  };

  const collect = (fetchNode: typeof fetch, cells: Promise<BlobCells>[], extra: Partial<CollectOptions> = {}) =>
    collectAttestations({
      committee,
      domain,
      payloadSize: 400_000,
      commitments: encoded.map((blob) => blob.commitment),
      cells,
      fetch: fetchNode,
      log,
      nodeTimeoutMs: 30_000,
      graceMs: 5_000,
      ...extra,
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-collect-'));
    encoded = payloadToBlobs(new Uint8Array(randomBytes(400_000))).map((blob) => ({ commitment: blobCommitment(blob), ...computeCellsAndProofs(blob) }));
    assert.equal(encoded.length, 4);
  });
  after(async () => {
    for (const store of stores) store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('sessions open before any cell exists; each blob goes out as soon as it is encoded; signatures come last', async () => {
    const fetchNode = await nodes();
    const sends: { index: number; kind: string; blobs: number[] }[] = [];
    const blobs = encoded.map(() => deferred());
    let finished = false;
    const result = collect(
      fetchNode,
      blobs.map((d) => d.promise),
      { tailBlobs: encoded.length, onSend: (e) => sends.push({ index: e.index, kind: e.kind, blobs: [...new Set(e.cells.map((c) => c.blob))] }) },
    ).finally(() => (finished = true));
    await tick();
    assert.deepEqual(sends.map((s) => s.kind), ['open', 'open', 'open']);

    // Out of order on purpose: blob 2 first, then 0, 1, 3.
    for (const blob of [2, 0, 1]) {
      blobs[blob]!.resolve(encoded[blob]!);
      await tick();
      const last = sends.slice(-3);
      assert.deepEqual(last.map((s) => [s.kind, s.blobs]), [['cells', [blob]], ['cells', [blob]], ['cells', [blob]]]);
      assert.equal(finished, false, 'no quorum before every blob is in');
      for (const store of stores) assert.equal(store.stats().roots, 0, 'nobody signed yet');
    }
    blobs[3]!.resolve(encoded[3]!);
    const { root, attestations, failures } = await result;
    assert.deepEqual(failures, []);
    assert.deepEqual(attestations.map((a) => a.index).sort(), [0, 1, 2]);
    for (const a of attestations) assert.equal(blsVerify(keys[a.index]!.publicKey, attestationMessage(domain, root), a.signature), true);
    // Every node holds exactly its assignment.
    const seed = blobSeed(epochSeed(domain, committee.epoch), root);
    for (const [index, store] of stores.entries()) assert.deepEqual(store.heldRefs(root), assignedCells(seed, 3, 2, encoded.length, index));
  });

  test('while encoders are busy, cells are gathered into batches; the tail goes out blob by blob', async () => {
    const fetchNode = await nodes();
    const sends: { index: number; kind: string; cells: number }[] = [];
    // Each node holds 85 or 86 cells of each blob (R = 2 of n = 3): two blobs pass a threshold of 150, one does not.
    const result = collect(
      fetchNode,
      encoded.map((blob) => Promise.resolve(blob)),
      { batchCells: 150, tailBlobs: 1, onSend: (e) => sends.push({ index: e.index, kind: e.kind, cells: e.cells.length }) },
    );
    const { attestations } = await result;
    assert.equal(attestations.length, 3);
    for (const index of [0, 1, 2]) {
      const batches = sends.filter((s) => s.index === index && s.kind === 'cells').map((s) => s.cells);
      // Blobs 0-1 together (the batch threshold), then 2 and 3 at the tail: three requests, not four.
      assert.equal(batches.length, 3, `node ${index}: ${batches.join(', ')}`);
      assert.ok(batches[0]! >= 170 && batches[1]! < 87 && batches[2]! < 87, `node ${index}: ${batches.join(', ')}`);
    }
  });

  test('a node sent bad cells does not sign; the others do, and the quorum still holds', async () => {
    const fetchNode = await nodes(1);
    const { attestations, failures } = await collect(fetchNode, encoded.map((blob) => Promise.resolve(blob)), { graceMs: 0 });
    assert.deepEqual(attestations.map((a) => a.index).sort(), [0, 2]);
    assert.deepEqual(failures.map((f) => [f.index, f.code]), [[1, 'DA_PROOF_INVALID']]);
    assert.equal(stores[1]!.stats().roots, 0);
  });

  test('an encoder failure fails the dispersal', async () => {
    const fetchNode = await nodes();
    const blobs = encoded.map(() => deferred());
    const result = collect(fetchNode, blobs.map((d) => d.promise));
    blobs[0]!.resolve(encoded[0]!);
    blobs[1]!.reject(Object.assign(new Error('worker died'), { code: 'DA_ENCODER_CRASHED' }));
    await assert.rejects(result, { code: 'DA_ENCODER_CRASHED' });
  });
});
