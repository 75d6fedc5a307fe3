import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bytesToHex, createWalletClient, custom, hexToBytes } from 'viem';
import type { Address, Hex, LocalAccount } from 'viem';
import { hardhat } from 'viem/chains';
import { startTestEvm } from '../../chain/test-evm.ts';
import type { TestEvm } from '../../chain/test-evm.ts';
import { blsVerify } from '../../protocol/da/bls.ts';
import { decodeCells, encodeCells, encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed } from '../../protocol/da/certificate.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import { blobCommitment, computeCellsAndProofs, verifyCellBatch } from '../../protocol/da/kzg.ts';
import { payloadToBlobs } from '../../protocol/da/payload-blobs.ts';
import type { BlobHeader, CellRef, CellWithProof, Committee, DaDomain } from '../../protocol/da/types.ts';
import { createLogger } from '../../shared/log.ts';
import { readCommitteeFromChain } from './committee.ts';
import { createDaNode } from './da-node.ts';
import type { DaNode } from './da-node.ts';

const ETHER = 10n ** 18n;
const log = createLogger({ level: 'silent' });

type Encoded = { header: BlobHeader; root: Hex; blobs: { cells: Uint8Array[]; proofs: Uint8Array[] }[] };

function encodePayload(payload: Uint8Array, epoch: bigint): Encoded {
  const blobs = payloadToBlobs(payload).map((blob) => ({ commitment: blobCommitment(blob), ...computeCellsAndProofs(blob) }));
  const header: BlobHeader = { epoch, payloadSize: payload.length, blobCount: blobs.length, commitments: blobs.map((b) => bytesToHex(b.commitment)) };
  return { header, root: dataRoot(header), blobs };
}

function cellsFor(encoded: Encoded, refs: readonly CellRef[]): CellWithProof[] {
  return refs.map((ref) => ({ ...ref, data: encoded.blobs[ref.blob]!.cells[ref.cell]!, proof: encoded.blobs[ref.blob]!.proofs[ref.cell]! }));
}

describe('DA node over HTTP against a real EVM', () => {
  let evm: TestEvm;
  let contract: Address;
  let domain: DaDomain;
  let dirs: string[] = [];
  const nodes: DaNode[] = [];
  let committee: Committee;
  let encoded: Encoded;
  const funded: Address[] = [];

  const nodeOptions = (dataDir: string) => ({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    log,
    client: evm.publicClient,
    chainId: 31337,
    contract,
    walletFor: (account: LocalAccount) =>
      createWalletClient({ account, chain: hardhat, transport: custom({ request: evm.publicClient.request }, { retryCount: 0 }) }),
    stakeWei: ETHER,
    fund: async (address: Address, minimumWei: bigint) => {
      funded.push(address);
      const hash = await evm.wallet(evm.accounts[0]!).sendTransaction({ to: address, value: minimumWei });
      await evm.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    },
  });
  const post = (node: DaNode, body: Uint8Array) =>
    fetch(`${node.url}/v1/custody`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
  const assignment = (root: Hex, header: BlobHeader, index: number) =>
    assignedCells(blobSeed(epochSeed(domain, header.epoch), root), committee.members.length, committee.replication, header.blobCount, index);
  const requestFor = (enc: Encoded, index: number) => encodeCustodyRequest({ header: enc.header, cells: cellsFor(enc, assignment(enc.root, enc.header, index)) });
  const expectError = async (response: Response, status: number, code: string) => {
    const body = (await response.json()) as { error?: { code?: string } };
    assert.equal(response.status, status, JSON.stringify(body));
    assert.equal(body.error?.code, code);
  };
  const assertNotStored = async (node: DaNode, root: Hex) => {
    await expectError(await fetch(`${node.url}/v1/blobs/${root}`), 404, 'DA_UNKNOWN_ROOT');
    await expectError(await fetch(`${node.url}/v1/blobs/${root}/cells`), 404, 'DA_UNKNOWN_ROOT');
  };

  before(async () => {
    evm = await startTestEvm();
    contract = await evm.deploy(evm.compiled.contracts.DataAvailability!, [ETHER, 2]);
    domain = { chainId: 31337, contract };
    for (let i = 0; i < 4; i++) {
      const dir = await mkdtemp(join(tmpdir(), `levity-da-node-${i}-`));
      dirs.push(dir);
      const node = createDaNode(nodeOptions(dir));
      await node.start();
      nodes.push(node);
    }
    committee = await readCommitteeFromChain(evm.publicClient, contract);
    encoded = encodePayload(new Uint8Array(randomBytes(300_000)), committee.epoch);
  });

  after(async () => {
    for (const node of nodes) await node.stop();
    await evm?.close();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    dirs = [];
  });

  test('four nodes register themselves, funded once each, in start order', async () => {
    assert.equal(committee.members.length, 4);
    assert.equal(committee.replication, 2);
    assert.deepEqual(funded, nodes.map((node) => node.address));
    for (const [i, node] of nodes.entries()) {
      const member = committee.members[i]!;
      assert.equal(node.index, i);
      assert.equal(member.address, node.address);
      assert.equal(member.url, node.url);
      assert.equal(member.stake, ETHER);
      assert.deepEqual(member.publicKey, node.publicKey);
      const info = (await (await fetch(`${node.url}/v1/info`)).json()) as Record<string, unknown>;
      assert.deepEqual(info, { address: node.address, publicKey: bytesToHex(node.publicKey), url: node.url, contract, chainId: 31337, index: i });
    }
  });

  test('bad custody requests get a 4xx with a DA code and store nothing', async () => {
    const node = nodes[0]!;
    const { header, root } = encoded;
    const mine = assignment(root, header, 0);

    // Another node's cells, one cell short, one cell extra, a duplicate: never this node's set.
    const wrongSets: CellRef[][] = [assignment(root, header, 1), mine.slice(1), [...mine, ...assignment(root, header, 2).filter((r) => !mine.some((m) => m.blob === r.blob && m.cell === r.cell)).slice(0, 1)], [...mine.slice(1), mine[2]!]];
    for (const refs of wrongSets) {
      await expectError(await post(node, encodeCustodyRequest({ header, cells: cellsFor(encoded, refs) })), 400, 'DA_CUSTODY_MISMATCH');
    }

    // A tampered cell: a low byte of one field element, so the cell stays canonical but wrong.
    const tampered = cellsFor(encoded, mine).map((cell, i) => (i === 5 ? { ...cell, data: flipByte(cell.data, 31) } : cell));
    await expectError(await post(node, encodeCustodyRequest({ header, cells: tampered })), 400, 'DA_PROOF_INVALID');
    const badProof = cellsFor(encoded, mine).map((cell, i) => (i === 0 ? { ...cell, proof: cellsFor(encoded, [mine[1]!])[0]!.proof } : cell));
    await expectError(await post(node, encodeCustodyRequest({ header, cells: badProof })), 400, 'DA_PROOF_INVALID');

    // The epoch before and after the contract's: the data root differs, and so would the custody.
    for (const epoch of [committee.epoch - 1n, committee.epoch + 1n]) {
      const other: BlobHeader = { ...header, epoch };
      const refs = assignedCells(blobSeed(epochSeed(domain, epoch), dataRoot(other)), 4, 2, header.blobCount, 0);
      await expectError(await post(node, encodeCustodyRequest({ header: other, cells: cellsFor(encoded, refs) })), 409, 'DA_WRONG_EPOCH');
      await assertNotStored(node, dataRoot(other));
    }

    // Malformed bodies and headers.
    await expectError(await post(node, new Uint8Array(randomBytes(500))), 400, 'DA_WIRE_MALFORMED');
    await expectError(await post(node, new Uint8Array(0)), 400, 'DA_WIRE_MALFORMED');
    const truncated = requestFor(encoded, 0);
    await expectError(await post(node, truncated.subarray(0, truncated.length - 100)), 400, 'DA_WIRE_MALFORMED');
    const json = { ...header, epoch: header.epoch.toString() };
    const badHeaders: unknown[] = [
      { ...json, blobCount: header.blobCount + 1 },
      { ...json, commitments: header.commitments.slice(1) },
      { ...json, payloadSize: 17 * 1024 * 1024, blobCount: 137 },
      { ...json, epoch: -1 },
      { ...json, commitments: header.commitments.map(() => '0x1234') },
      [],
    ];
    for (const bad of badHeaders) {
      const response = await post(node, rawCustodyRequest(bad));
      assert.equal(response.status, 400);
      const code = ((await response.json()) as { error: { code: string } }).error.code;
      assert.match(code, /^DA_(HEADER|WIRE|PAYLOAD)_/);
    }
    const junkCommitment: BlobHeader = { ...header, commitments: header.commitments.map(() => `0x${'ff'.repeat(48)}` as Hex) };
    const junkRefs = assignedCells(blobSeed(epochSeed(domain, header.epoch), dataRoot(junkCommitment)), 4, 2, header.blobCount, 0);
    const junk = await post(node, encodeCustodyRequest({ header: junkCommitment, cells: cellsFor(encoded, junkRefs) }));
    // Commitments that are not curve points: a wrong proof, never a 5xx.
    await expectError(junk, 400, 'DA_PROOF_INVALID');

    await assertNotStored(node, root);
    const health = (await (await fetch(`${node.url}/health`)).json()) as { roots: number; cells: number };
    assert.deepEqual([health.roots, health.cells], [0, 0]);

    await expectError(await fetch(`${node.url}/v1/blobs/0x1234`), 400, 'DA_ROOT_MALFORMED');
  });

  test('each node accepts exactly its assignment and signs the data root', async () => {
    const message = attestationMessage(domain, encoded.root);
    const covered = new Map<string, number>();
    for (const [i, node] of nodes.entries()) {
      const refs = assignment(encoded.root, encoded.header, i);
      assert.ok(refs.length > 0);
      const response = await post(node, requestFor(encoded, i));
      const body = (await response.json()) as { dataRoot: Hex; node: Address; index: number; publicKey: Hex; signature: Hex; cells: number };
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.deepEqual({ ...body, signature: undefined }, {
        dataRoot: encoded.root,
        node: node.address,
        index: i,
        publicKey: bytesToHex(node.publicKey),
        signature: undefined,
        cells: refs.length,
      });
      assert.equal(blsVerify(committee.members[i]!.publicKey, message, hexToBytes(body.signature)), true);
      for (const ref of refs) covered.set(`${ref.blob}:${ref.cell}`, (covered.get(`${ref.blob}:${ref.cell}`) ?? 0) + 1);

      // Idempotent: the same request again gets the same answer.
      const again = await post(node, requestFor(encoded, i));
      assert.equal(again.status, 200);
      assert.deepEqual(await again.json(), body);
    }
    assert.equal(covered.size, encoded.header.blobCount * 128);
    assert.ok([...covered.values()].every((count) => count === 2));

    // Once held, a wrong set for the same root is still refused.
    await expectError(await post(nodes[0]!, requestFor(encoded, 1)), 400, 'DA_CUSTODY_MISMATCH');
  });

  test('streams custody over HTTP: a session per root, typed 4xx for bad use, the signature with the last batch', async () => {
    const node = nodes[3]!;
    const streamed = encodePayload(new Uint8Array(randomBytes(200_000)), committee.epoch);
    const mine = assignment(streamed.root, streamed.header, 3);
    const open = () => fetch(`${node.url}/v1/custody/${streamed.root}`, { method: 'POST', body: encodeCustodyRequest({ header: streamed.header, cells: [] }) });
    const send = (refs: readonly CellRef[]) => fetch(`${node.url}/v1/custody/${streamed.root}/cells`, { method: 'POST', body: encodeCells(cellsFor(streamed, refs)) });

    await expectError(await send(mine.slice(0, 1)), 404, 'DA_UNKNOWN_SESSION');
    await expectError(await fetch(`${node.url}/v1/custody/${encoded.root}`, { method: 'POST', body: encodeCustodyRequest({ header: streamed.header, cells: [] }) }), 400, 'DA_ROOT_MISMATCH');
    const opened = await open();
    assert.equal(opened.status, 200);
    assert.deepEqual(await opened.json(), { dataRoot: streamed.root, index: 3, received: 0, expected: mine.length, attestation: null });
    await expectError(await send(assignment(streamed.root, streamed.header, 1).filter((r) => !mine.some((m) => m.blob === r.blob && m.cell === r.cell)).slice(0, 1)), 400, 'DA_CUSTODY_MISMATCH');
    const first = (await (await send(mine.filter((r) => r.blob === 0))).json()) as { received: number; attestation: unknown };
    assert.equal(first.attestation, null);
    await assertNotStored(node, streamed.root);
    const last = (await (await send(mine.filter((r) => r.blob === 1))).json()) as { received: number; attestation: { signature: Hex } | null };
    assert.equal(last.received, mine.length);
    assert.equal(blsVerify(committee.members[3]!.publicKey, attestationMessage(domain, streamed.root), hexToBytes(last.attestation!.signature)), true);
    const header = (await (await fetch(`${node.url}/v1/blobs/${streamed.root}`)).json()) as Record<string, unknown>;
    assert.deepEqual(header, { ...streamed.header, epoch: streamed.header.epoch.toString() });
  });

  test('GET serves the header and exactly the held cells, with valid proofs', async () => {
    const node = nodes[1]!;
    const header = (await (await fetch(`${node.url}/v1/blobs/${encoded.root}`)).json()) as Record<string, unknown>;
    assert.deepEqual(header, { ...encoded.header, epoch: encoded.header.epoch.toString() });

    const held = assignment(encoded.root, encoded.header, 1);
    const response = await fetch(`${node.url}/v1/blobs/${encoded.root}/cells`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'application/octet-stream');
    const cells = decodeCells(new Uint8Array(await response.arrayBuffer()));
    assert.deepEqual(cells.map(({ blob, cell }) => `${blob}:${cell}`).sort(), held.map(({ blob, cell }) => `${blob}:${cell}`).sort());
    const commitments = encoded.header.commitments.map((c) => hexToBytes(c));
    assert.equal(verifyCellBatch(cells.map((c) => commitments[c.blob]!), cells.map((c) => c.cell), cells.map((c) => c.data), cells.map((c) => c.proof)), true);

    // A query: held cells come back, the others are skipped.
    const notHeld = assignment(encoded.root, encoded.header, 3).find((r) => !held.some((h) => h.blob === r.blob && h.cell === r.cell))!;
    const query = `${held[0]!.blob}:${held[0]!.cell},${notHeld.blob}:${notHeld.cell},${held[3]!.blob}:${held[3]!.cell}`;
    const some = decodeCells(new Uint8Array(await (await fetch(`${node.url}/v1/blobs/${encoded.root}/cells?cells=${query}`)).arrayBuffer()));
    assert.deepEqual(some.map(({ blob, cell }) => ({ blob, cell })), [held[0], held[3]].map((r) => ({ blob: r!.blob, cell: r!.cell })));
    assert.deepEqual(some[0]!.data, encoded.blobs[held[0]!.blob]!.cells[held[0]!.cell]);

    const bad = await fetch(`${node.url}/v1/blobs/${encoded.root}/cells?cells=zz`);
    assert.equal(bad.status, 400);
    await assertNotStored(node, `0x${'42'.repeat(32)}`);
  });

  test('a restarted node keeps its identity, registration and cells', async () => {
    const before = nodes[2]!;
    const { address, publicKey, index } = before;
    await before.stop();
    funded.length = 0;
    const restarted = createDaNode(nodeOptions(dirs[2]!));
    nodes[2] = restarted;
    await restarted.start();
    assert.equal(restarted.address, address);
    assert.deepEqual(restarted.publicKey, publicKey);
    assert.equal(restarted.index, index);
    assert.deepEqual(funded, [], 'no second registration');
    const now = await readCommitteeFromChain(evm.publicClient, contract);
    assert.equal(now.epoch, committee.epoch);
    assert.equal(now.members.length, 4);

    const cells = decodeCells(new Uint8Array(await (await fetch(`${restarted.url}/v1/blobs/${encoded.root}/cells`)).arrayBuffer()));
    assert.equal(cells.length, assignment(encoded.root, encoded.header, 2).length);
    // The signature given before the restart is answered again.
    const again = await post(restarted, requestFor(encoded, 2));
    assert.equal(again.status, 200);
    const body = (await again.json()) as { signature: Hex };
    assert.equal(blsVerify(publicKey, attestationMessage(domain, encoded.root), hexToBytes(body.signature)), true);
  });
});

function flipByte(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

/** A custody request with any header JSON and no cells: the shared encoder refuses to build bad ones. */
function rawCustodyRequest(header: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + 1 + 1 + 4 + json.length + 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode('LVDA'), 0);
  out[4] = 1;
  out[5] = 1;
  view.setUint32(6, json.length);
  out.set(json, 10);
  view.setUint32(10 + json.length, 0);
  return out;
}
