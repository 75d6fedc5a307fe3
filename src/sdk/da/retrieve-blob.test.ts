import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { keccak256 } from 'viem';
import type { Hex } from 'viem';
import { startTestEvm } from '../../chain/test-evm.ts';
import type { TestEvm } from '../../chain/test-evm.ts';
import { createDaNode } from '../../da/node/da-node.ts';
import { decodeCells, encodeCells } from '../../protocol/da/cell-wire.ts';
import { CELLS_PER_BLOB, RECOVERY_CELLS } from '../../protocol/da/constants.ts';
import { LevityError } from '../../protocol/errors.ts';
import { createLogger } from '../../shared/log.ts';
import { readCertificate, readCommittee } from './committee.ts';
import { disperseByHand, startDaTestNet } from './da-test-kit.ts';
import type { DaTestNet, DisperseByHandReturnType } from './da-test-kit.ts';
import type { FetchLike } from './da-http.ts';
import { daNodeClient } from './node-client.ts';
import { retrieveBlob, splitRefs, MAX_CELLS_QUERY_CHARS } from './retrieve-blob.ts';
import { sampleBlob } from './sample-blob.ts';
import { mulberry32 as seeded } from '../../protocol/seeded-random.ts';

const log = createLogger({ level: 'silent' });

/** A fetch that fails (as a dead socket does) or answers 404 for the given nodes, and counts requests. */
function faultyFetch(options: { down?: string[]; withhold?: string[]; corrupt?: string[] }): FetchLike & { requests: string[] } {
  const requests: string[] = [];
  const matches = (list: string[] | undefined, url: string) => (list ?? []).some((base) => url.startsWith(`${base}/`));
  const f = async (url: string, init?: RequestInit) => {
    requests.push(url);
    if (matches(options.down, url)) throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED') });
    if (matches(options.withhold, url)) {
      return new Response(JSON.stringify({ error: { code: 'DA_UNKNOWN_ROOT', message: 'withheld' } }), { status: 404, headers: { 'content-type': 'application/json' } });
    }
    const response = await fetch(url, init);
    if (!matches(options.corrupt, url) || !url.includes('/cells') || !response.ok) return response;
    // Every other cell gets a flipped low byte: still canonical field elements, but no longer what the proof opens.
    const cells = decodeCells(new Uint8Array(await response.arrayBuffer())).map((cell, i) => {
      if (i % 2 === 1) return cell;
      const data = cell.data.slice();
      data[31] = data[31]! ^ 0x01;
      return { ...cell, data };
    });
    return new Response(encodeCells(cells) as Uint8Array<ArrayBuffer>, { status: 200, headers: { 'content-type': 'application/octet-stream' } });
  };
  return Object.assign(f, { requests });
}

describe('retrieveBlob and sampleBlob against 4 real DA nodes on a test EVM', () => {
  let evm: TestEvm;
  let net: DaTestNet;
  let payload: Uint8Array;
  let dispersed: DisperseByHandReturnType;
  let urls: string[];
  const source = () => ({ client: net.client, contract: net.contract, root: dispersed.root });

  before(async () => {
    evm = await startTestEvm();
    net = await startDaTestNet({ evm, createNode: (options) => createDaNode({ ...options, log }) });
    urls = net.nodes.map((node) => node.url);
    // Three blobs, the last one partly padding.
    payload = new Uint8Array(randomBytes(300_000));
    dispersed = await disperseByHand({ client: net.client, wallet: net.submitter, contract: net.contract, payload });
  });

  after(async () => {
    await net?.close();
    await evm?.close();
  });

  test('the committee and the certificate read from the contract match the dispersal', async () => {
    const committee = await readCommittee({ client: net.client, contract: net.contract });
    assert.equal(committee.members.length, 4);
    assert.equal(committee.replication, 2);
    assert.deepEqual(committee.members.map((m) => m.url), urls);
    for (const member of committee.members) assert.equal(member.publicKey.length, 48);
    const certificate = await readCertificate({ client: net.client, contract: net.contract, root: dispersed.root });
    assert.ok(certificate);
    assert.equal(certificate.epoch, committee.epoch);
    assert.equal(certificate.payloadSize, payload.length);
    assert.equal(certificate.blobCount, 3);
    assert.deepEqual(certificate.signers, [0, 1, 2, 3]);
    assert.equal(await readCertificate({ client: net.client, contract: net.contract, root: keccak256('0x01') }), undefined);
  });

  test('retrieval is byte-exact and uses cells 0..63 directly when every node is healthy', async () => {
    const fetch = faultyFetch({});
    const phases = new Set<string>();
    const result = await retrieveBlob({ ...source(), fetch, onProgress: (p) => phases.add(p.phase) });
    assert.ok(Buffer.from(result.payload).equals(Buffer.from(payload)));
    assert.deepEqual(result.report.badNodes, []);
    assert.deepEqual(result.report.unreachable, []);
    assert.equal(result.report.recovered, 0);
    assert.equal(result.report.cellsUsed, 3 * RECOVERY_CELLS);
    assert.deepEqual([...phases].sort(), ['fetch', 'rebuild']);
    // One header request, then each node is asked once for its custody set (it fits one query).
    const cellRequests = fetch.requests.filter((url) => url.includes('/cells'));
    assert.equal(cellRequests.length, 4);
    assert.deepEqual(new Set(cellRequests.map((url) => urls.find((base) => url.startsWith(base)))), new Set(urls));
    assert.ok(cellRequests.every((url) => url.includes('?cells=')));
  });

  test('two dead nodes are skipped and reported; the payload is still rebuilt, with recovery', async () => {
    // Nodes 0 and 1 together are the only custodians of a quarter of the cells: those must be recovered.
    const result = await retrieveBlob({ ...source(), fetch: faultyFetch({ down: [urls[0]!, urls[1]!] }) });
    assert.ok(Buffer.from(result.payload).equals(Buffer.from(payload)));
    assert.deepEqual(result.report.unreachable.map((node) => node.index).sort(), [0, 1]);
    assert.ok(result.report.unreachable.every((node) => node.reason.startsWith('DA_UNREACHABLE')));
    assert.deepEqual(result.report.badNodes, []);
    assert.equal(result.report.recovered, 3);

    // Nodes 0 and 2 down: every cell still has a live custodian, so nothing needs recovery.
    const spread = await retrieveBlob({ ...source(), fetch: faultyFetch({ down: [urls[0]!, urls[2]!] }) });
    assert.ok(Buffer.from(spread.payload).equals(Buffer.from(payload)));
    assert.equal(spread.report.recovered, 0);
  });

  test('a node serving corrupted cells is reported, its bad cells discarded, and the payload still rebuilt', async () => {
    const result = await retrieveBlob({ ...source(), fetch: faultyFetch({ corrupt: [urls[2]!] }) });
    assert.ok(Buffer.from(result.payload).equals(Buffer.from(payload)));
    assert.equal(result.report.badNodes.length, 1);
    const bad = result.report.badNodes[0]!;
    assert.equal(bad.index, 2);
    assert.equal(bad.url, urls[2]);
    // Node 2 holds half of the 3 × 128 cells; every other one was corrupted.
    assert.equal(bad.cells, (3 * CELLS_PER_BLOB) / 2 / 2);
    assert.deepEqual(result.report.unreachable, []);
  });

  test('a node that lies about the header is reported and another node is asked', async () => {
    const lying: FetchLike = async (url, init) => {
      if (url === `${urls[0]}/v1/blobs/${dispersed.root}`) {
        const header = { ...dispersed.header, epoch: dispersed.header.epoch.toString(), payloadSize: dispersed.header.payloadSize - 1 };
        return Response.json(header);
      }
      return fetch(url, init);
    };
    const result = await retrieveBlob({ ...source(), fetch: lying });
    assert.ok(Buffer.from(result.payload).equals(Buffer.from(payload)));
    assert.deepEqual(result.report.badNodes.map((node) => node.index), [0]);
    assert.match(result.report.badNodes[0]!.reason, /header/);
  });

  test('fewer than 64 valid cells of a blob is DA_UNRECOVERABLE naming the blob', async () => {
    // Any one node holds exactly half of each blob (64 cells): enough alone, but not when half of those are bad.
    const alone = await retrieveBlob({ ...source(), fetch: faultyFetch({ down: [urls[0]!, urls[1]!, urls[2]!] }) });
    assert.ok(Buffer.from(alone.payload).equals(Buffer.from(payload)));
    assert.equal(alone.report.unreachable.length, 3);
    const fetch = faultyFetch({ down: [urls[0]!, urls[1]!, urls[2]!], corrupt: [urls[3]!] });
    await assert.rejects(retrieveBlob({ ...source(), fetch }), (error: unknown) => {
      assert.ok(error instanceof LevityError);
      assert.equal(error.name, 'NotFoundError');
      assert.equal(error.code, 'DA_UNRECOVERABLE');
      assert.match(error.shortMessage, /^blob 0 of 0x[0-9a-f]{64}: only 32 valid cells found, 64 needed$/);
      assert.deepEqual((error.meta.badNodes as Array<{ index: number }>).map((node) => node.index), [3]);
      return true;
    });
  });

  test('an uncertified root is refused before any node is asked', async () => {
    const fetch = faultyFetch({});
    const root = keccak256('0x1234') as Hex;
    for (const read of [retrieveBlob({ ...source(), root, fetch }), sampleBlob({ ...source(), root, fetch })]) {
      await assert.rejects(read, (error: unknown) => error instanceof LevityError && error.name === 'NotFoundError' && error.code === 'DA_NOT_CERTIFIED');
    }
    assert.deepEqual(fetch.requests, []);
    await assert.rejects(retrieveBlob({ ...source(), root: '0x12' as Hex }), (error: unknown) => error instanceof LevityError && error.code === 'DA_INVALID_INPUT');
  });

  test('sampling a healthy root: every sample verifies and it is available', async () => {
    const result = await sampleBlob({ ...source(), k: 30, random: seeded(1), fetch: faultyFetch({}) });
    assert.equal(result.available, true);
    assert.equal(result.k, 30);
    assert.equal(result.ok, 30);
    assert.equal(result.failed, 0);
    assert.ok(result.confidence > 0.999999999);
    assert.equal(result.samples.length, 30);
    assert.equal(new Set(result.samples.map((s) => `${s.blob}:${s.cell}`)).size, 30, 'samples are distinct cells');
    assert.ok(result.samples.every((s) => s.ok && s.node && s.blob < 3 && s.cell < CELLS_PER_BLOB));
  });

  test('sampling skips a custodian serving bad cells and still verifies through the other', async () => {
    // Node 1 corrupts every cell it is asked for alone; its partner custodian of each cell is honest.
    const result = await sampleBlob({ ...source(), k: 40, random: seeded(7), fetch: faultyFetch({ corrupt: [urls[1]!] }) });
    assert.equal(result.available, true);
    assert.equal(result.ok, 40);
    const invalid = result.samples.flatMap((s) => s.failures).filter((f) => f.reason === 'invalid');
    assert.ok(invalid.length > 0 && invalid.every((f) => f.node === net.nodes[1]!.address));
  });

  test('sampling a root whose cells are mostly withheld reports it unavailable', async () => {
    const fetch = faultyFetch({ withhold: [urls[0]!, urls[1]!, urls[2]!] });
    const result = await sampleBlob({ ...source(), k: 30, random: seeded(3), fetch });
    assert.equal(result.available, false);
    assert.ok(result.confidence < 0.999, `confidence ${result.confidence}`);
    assert.equal(result.ok + result.failed, 30);
    // Only node 3 answers, and it holds half of the cells.
    assert.ok(result.ok > 5 && result.ok < 25, `ok ${result.ok}`);
    assert.ok(result.samples.filter((s) => s.ok).every((s) => s.node === net.nodes[3]!.address));
    assert.ok(result.samples.filter((s) => !s.ok).every((s) => s.failures.length === 2));
  });

  test('the node client types a dead node, a 404 and a bad reply', async () => {
    const dead = daNodeClient(urls[0]!, { fetch: faultyFetch({ down: [urls[0]!] }) });
    await assert.rejects(dead.info(), (error: unknown) => error instanceof LevityError && error.name === 'UpstreamError' && error.code === 'DA_UNREACHABLE');
    const live = daNodeClient(urls[0]!);
    await assert.rejects(live.header(keccak256('0x99')), (error: unknown) => error instanceof LevityError && error.name === 'NotFoundError' && error.code === 'DA_UNKNOWN_ROOT');
    const info = await live.info();
    assert.equal(info.address, net.nodes[0]!.address);
    const garbage = daNodeClient(urls[0]!, { fetch: async () => new Response('not json', { status: 200 }) });
    await assert.rejects(garbage.info(), (error: unknown) => error instanceof LevityError && error.code === 'DA_BAD_REPLY');
    const slow = daNodeClient(urls[0]!, {
      timeoutMs: 50,
      fetch: (_url, init) => new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason))),
    });
    await assert.rejects(slow.info(), (error: unknown) => error instanceof LevityError && error.code === 'DA_TIMEOUT');
  });
});

test('long custody sets are asked in parts that keep the query under the limit', () => {
  const refs = Array.from({ length: 133 * 64 }, (_, i) => ({ blob: Math.floor(i / 64), cell: (i % 64) * 2 }));
  const parts = splitRefs(refs);
  assert.ok(parts.length > 1);
  assert.deepEqual(parts.flat(), refs);
  for (const part of parts) assert.ok(part.map((r) => `${r.blob}:${r.cell}`).join(',').length <= MAX_CELLS_QUERY_CHARS);
});
