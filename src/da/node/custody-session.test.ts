/**
 * Streaming custody on one DA node (in process, a fixed committee instead of a chain): sessions opened with the
 * header, cells verified and stored batch by batch, the signature only once every assigned cell is held, and what
 * becomes of sessions that are abandoned, idle, evicted or cut short by kill -9.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { bytesToHex, hexToBytes } from 'viem';
import type { Address, Hex } from 'viem';
import { blsKeyFromSeed, blsVerify } from '../../protocol/da/bls.ts';
import { encodeCells, encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed } from '../../protocol/da/certificate.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import { blobCommitment, computeCellsAndProofs } from '../../protocol/da/kzg.ts';
import { payloadToBlobs } from '../../protocol/da/payload-blobs.ts';
import type { BlobHeader, CellRef, CellWithProof, Committee, DaDomain } from '../../protocol/da/types.ts';
import { createLogger } from '../../shared/log.ts';
import { createCommitteeCache } from './committee.ts';
import { openDaStore } from './da-store.ts';
import type { DaStore } from './da-store.ts';
import { createDaNodeService } from './da-service.ts';
import type { DaNodeServiceOptions } from './da-service.ts';

const domain: DaDomain = { chainId: 31337, contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const KEY_SEEDS = [11, 12, 13];
const keys = KEY_SEEDS.map((i) => blsKeyFromSeed(new Uint8Array(32).fill(i)));
const addresses: Address[] = ['0x1000000000000000000000000000000000000001', '0x2000000000000000000000000000000000000002', '0x3000000000000000000000000000000000000003'];
const committee: Committee = {
  epoch: 3n,
  replication: 2,
  members: addresses.map((address, index) => ({ index, address, url: `http://node-${index}`, stake: 10n ** 18n, publicKey: keys[index]!.publicKey })),
};

type Payload = { header: BlobHeader; root: Hex; blobs: { cells: Uint8Array[]; proofs: Uint8Array[] }[] };

function encodePayload(size: number): Payload {
  const blobs = payloadToBlobs(new Uint8Array(randomBytes(size)));
  const header: BlobHeader = { epoch: committee.epoch, payloadSize: size, blobCount: blobs.length, commitments: blobs.map((b) => bytesToHex(blobCommitment(b))) };
  return { header, root: dataRoot(header), blobs: blobs.map((blob) => computeCellsAndProofs(blob)) };
}

const assignment = (p: Payload, index: number) => assignedCells(blobSeed(epochSeed(domain, p.header.epoch), p.root), 3, 2, p.header.blobCount, index);
const cellsOf = (p: Payload, refs: readonly CellRef[]): CellWithProof[] =>
  refs.map((ref) => ({ ...ref, data: p.blobs[ref.blob]!.cells[ref.cell]!, proof: p.blobs[ref.blob]!.proofs[ref.cell]! }));
const openBody = (p: Payload, cells: CellWithProof[] = []) => encodeCustodyRequest({ header: p.header, cells });

function nodeService(store: DaStore, index: number, extra: Partial<DaNodeServiceOptions> = {}, now?: () => number) {
  return createDaNodeService(
    { domain, maxPayloadBytes: 16 * 1024 * 1024, verifyChunkCells: 64, storeChunkCells: 64, sessionIdleMs: 60_000, maxSessions: 4, ...extra },
    {
      store,
      committee: createCommitteeCache(async () => committee),
      address: addresses[index]!,
      bls: keys[index]!,
      log: createLogger({ level: 'silent' }),
      ...(now ? { now } : {}),
    },
  );
}

describe('streaming custody sessions', () => {
  let dir: string;
  let small: Payload;
  let other: Payload;
  const stores: DaStore[] = [];
  const freshStore = async (name: string) => {
    const store = openDaStore({ path: join(dir, `${name}.sqlite`) });
    stores.push(store);
    return store;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-custody-session-'));
    small = encodePayload(300_000); // 3 blobs
    other = encodePayload(1000);
  });
  after(async () => {
    for (const store of stores) store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('cells arrive blob by blob; the node signs with the batch that completes its assignment, not before', async () => {
    const store = await freshStore('order');
    const node = nodeService(store, 1);
    const mine = assignment(small, 1);
    const opened = await node.openCustody(small.root, openBody(small));
    assert.deepEqual(opened, { dataRoot: small.root, index: 1, received: 0, expected: mine.length, attestation: null });

    let received = 0;
    for (let blob = 0; blob < small.header.blobCount; blob++) {
      const batch = mine.filter((ref) => ref.blob === blob);
      const progress = await node.addCells(small.root, encodeCells(cellsOf(small, batch)));
      received += batch.length;
      assert.equal(progress.received, received);
      if (blob < small.header.blobCount - 1) {
        assert.equal(progress.attestation, null, `no signature after blob ${blob}`);
        assert.equal(store.attestation(small.root), undefined);
        assert.throws(() => node.header(small.root), { code: 'DA_UNKNOWN_ROOT' }, 'pending cells are not served');
      } else {
        const signature = hexToBytes(progress.attestation!.signature);
        assert.equal(blsVerify(keys[1]!.publicKey, attestationMessage(domain, small.root), signature), true);
        assert.equal(progress.attestation!.cells, mine.length);
      }
    }
    assert.deepEqual(store.heldRefs(small.root), mine);
    assert.deepEqual(node.header(small.root), small.header);
    // Opening again, or more cells, after the signature: the same attestation.
    const again = await node.openCustody(small.root, openBody(small));
    const late = await node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(0, 2))));
    assert.deepEqual(again.attestation, late.attestation);
    assert.equal(again.attestation!.signature, (await node.custody(encodeCustodyRequest({ header: small.header, cells: cellsOf(small, mine) }))).signature);
  });

  test('missing, foreign, duplicate or bad cells never get a signature', async () => {
    const store = await freshStore('refuse');
    const node = nodeService(store, 0);
    const mine = assignment(small, 0);
    const foreign = assignment(small, 1).find((ref) => !mine.some((m) => m.blob === ref.blob && m.cell === ref.cell))!;
    await node.openCustody(small.root, openBody(small));

    const allButOne = await node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(0, -1))));
    assert.equal(allButOne.attestation, null);
    assert.equal(allButOne.received, mine.length - 1);

    const last = cellsOf(small, mine.slice(-1));
    await assert.rejects(node.addCells(small.root, encodeCells([...last, ...cellsOf(small, [foreign])])), { code: 'DA_CUSTODY_MISMATCH' });
    await assert.rejects(node.addCells(small.root, encodeCells([...last, ...last])), { code: 'DA_CUSTODY_MISMATCH' });
    const tampered = { ...last[0]!, data: new Uint8Array(last[0]!.data) };
    tampered.data[31] = tampered.data[31]! ^ 1;
    await assert.rejects(node.addCells(small.root, encodeCells([tampered])), { code: 'DA_PROOF_INVALID' });
    // A proof of another cell, and a commitment of another blob (a header that hashes elsewhere) fail the same way.
    await assert.rejects(node.addCells(small.root, encodeCells([{ ...last[0]!, proof: cellsOf(small, mine.slice(0, 1))[0]!.proof }])), { code: 'DA_PROOF_INVALID' });
    assert.equal(store.attestation(small.root), undefined);
    assert.equal(store.stats().cells, mine.length - 1, 'refused batches store nothing');

    const signed = await node.addCells(small.root, encodeCells(last));
    assert.ok(signed.attestation);
    assert.equal(store.stats().cells, mine.length);
  });

  test('bad requests get typed errors: root mismatch, malformed root, unknown session, malformed body', async () => {
    const store = await freshStore('errors');
    const node = nodeService(store, 2);
    await assert.rejects(node.openCustody(other.root, openBody(small)), { code: 'DA_ROOT_MISMATCH' });
    await assert.rejects(node.openCustody('0x1234', openBody(small)), { code: 'DA_ROOT_MALFORMED' });
    await assert.rejects(node.addCells(small.root, encodeCells([])), { code: 'DA_UNKNOWN_SESSION' });
    await assert.rejects(node.openCustody(small.root, encodeCells([])), { code: 'DA_WIRE_MALFORMED' });
    await assert.rejects(node.openCustody(small.root, new Uint8Array(7)), { code: 'DA_WIRE_MALFORMED' });
    await node.openCustody(small.root, openBody(small));
    await assert.rejects(node.addCells(small.root, openBody(small)), { code: 'DA_WIRE_MALFORMED' });
    const stale = { ...small.header, epoch: 2n };
    await assert.rejects(node.openCustody(dataRoot(stale), encodeCustodyRequest({ header: stale, cells: [] })), { code: 'DA_WRONG_EPOCH' });
  });

  test('a retry rejoins an abandoned session: held cells are kept, resent ones are not stored twice', async () => {
    const store = await freshStore('retry');
    const node = nodeService(store, 0);
    const mine = assignment(small, 0);
    const half = Math.floor(mine.length / 2);
    await node.openCustody(small.root, openBody(small));
    await node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(0, half))));
    // The aggregator gives up here; a new attempt opens the same root and sends everything.
    const rejoined = await node.openCustody(small.root, openBody(small));
    assert.equal(rejoined.received, half);
    const done = await node.addCells(small.root, encodeCells(cellsOf(small, mine)));
    assert.ok(done.attestation);
    assert.deepEqual(store.stats(), { roots: 1, cells: mine.length });
  });

  test('idle sessions are abandoned and their cells deleted; a full node evicts the longest idle one', async () => {
    let clock = 1_000;
    const store = await freshStore('idle');
    const node = nodeService(store, 0, { sessionIdleMs: 5_000, maxSessions: 1 }, () => clock);
    const mine = assignment(small, 0);
    await node.openCustody(small.root, openBody(small));
    await node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(0, 10))));
    assert.equal(store.stats().cells, 10);
    clock += 5_001;
    await assert.rejects(node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(10, 20)))), { code: 'DA_UNKNOWN_SESSION' });
    assert.equal(store.stats().cells, 0, 'the idle session’s cells are gone');
    assert.equal(node.work().sessionsAbandoned, 1);

    // Starting over works; a second root then evicts it (maxSessions 1).
    assert.equal((await node.openCustody(small.root, openBody(small))).received, 0);
    await node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(0, 10))));
    clock += 1;
    await node.openCustody(other.root, openBody(other));
    assert.equal(store.stats().cells, 0);
    await assert.rejects(node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(10, 20)))), { code: 'DA_UNKNOWN_SESSION' });
    const theirs = assignment(other, 0);
    assert.ok((await node.addCells(other.root, encodeCells(cellsOf(other, theirs)))).attestation);
  });

  test('kill -9 in the middle of a session leaves nothing; the retry starts over and signs', async () => {
    const path = join(dir, 'killed.sqlite');
    const mine = assignment(small, 0);
    const half = Math.floor(mine.length / 2);
    await writeFile(join(dir, 'open.bin'), openBody(small));
    await writeFile(join(dir, 'first.bin'), encodeCells(cellsOf(small, mine.slice(0, half))));
    await writeFile(join(dir, 'second.bin'), encodeCells(cellsOf(small, mine.slice(half))));
    const child = spawn(process.execPath, ['--input-type=module', '-e', childScript(dir, path, small.root)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        // The second half is being verified and stored, one small chunk per event-loop turn, when the kill lands.
        if (chunk.toString().includes('BUSY')) resolve();
      });
      void exited.then(() => reject(new Error(`the child exited early: ${output}`)));
    });
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    // Killed mid-session: the first half (at least) was written, unsigned.
    const raw = new DatabaseSync(path);
    const written = (raw.prepare('SELECT COUNT(*) AS n FROM cells').get() as { n: number }).n;
    const signedRoots = (raw.prepare('SELECT COUNT(*) AS n FROM headers').get() as { n: number }).n;
    raw.close();
    assert.ok(written >= half && written < mine.length, `${written} of ${mine.length} cells were written`);
    assert.equal(signedRoots, 0);

    const store = openDaStore({ path });
    stores.push(store);
    assert.equal(store.attestation(small.root), undefined);
    assert.deepEqual(store.stats(), { roots: 0, cells: 0 }, 'unsigned cells do not survive a restart');
    const node = nodeService(store, 0);
    await assert.rejects(node.addCells(small.root, encodeCells(cellsOf(small, mine.slice(half)))), { code: 'DA_UNKNOWN_SESSION' });
    assert.equal((await node.openCustody(small.root, openBody(small))).received, 0);
    const done = await node.addCells(small.root, encodeCells(cellsOf(small, mine)));
    assert.ok(done.attestation);
    assert.deepEqual(store.stats(), { roots: 1, cells: mine.length });
  });
});

/** A DA node service in a child process: opens the session, stores half its cells, and is busy with the rest. */
function childScript(dir: string, path: string, root: Hex): string {
  const url = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
  return `
    import { readFileSync } from 'node:fs';
    import { blsKeyFromSeed } from ${url('../../protocol/da/bls.ts')};
    import { createLogger } from ${url('../../shared/log.ts')};
    import { createCommitteeCache } from ${url('./committee.ts')};
    import { openDaStore } from ${url('./da-store.ts')};
    import { createDaNodeService } from ${url('./da-service.ts')};
    const keys = ${JSON.stringify(KEY_SEEDS)}.map((i) => blsKeyFromSeed(new Uint8Array(32).fill(i)));
    const addresses = ${JSON.stringify(addresses)};
    const committee = { epoch: ${committee.epoch}n, replication: 2, members: addresses.map((address, index) => ({ index, address, url: 'http://node-' + index, stake: 1n, publicKey: keys[index].publicKey })) };
    const service = createDaNodeService(
      { domain: ${JSON.stringify(domain)}, maxPayloadBytes: 16777216, verifyChunkCells: 4, storeChunkCells: 4, sessionIdleMs: 60000, maxSessions: 4 },
      { store: openDaStore({ path: ${JSON.stringify(path)} }), committee: createCommitteeCache(async () => committee), address: addresses[0], bls: keys[0], log: createLogger({ level: 'silent' }) },
    );
    const read = (name) => new Uint8Array(readFileSync(${JSON.stringify(dir)} + '/' + name));
    await service.openCustody(${JSON.stringify(root)}, read('open.bin'));
    await service.addCells(${JSON.stringify(root)}, read('first.bin'));
    void service.addCells(${JSON.stringify(root)}, read('second.bin'));
    setTimeout(() => process.stdout.write('BUSY\\n'), 5);
    setInterval(() => {}, 1000);
  `;
}
