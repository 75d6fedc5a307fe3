import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bytesToHex } from 'viem';
import type { Address, Hex } from 'viem';
import { blsKeyFromSeed, blsVerify } from '../../protocol/da/bls.ts';
import { encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed } from '../../protocol/da/certificate.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import { blobCommitment, computeCellsAndProofs } from '../../protocol/da/kzg.ts';
import { payloadToBlobs } from '../../protocol/da/payload-blobs.ts';
import type { BlobHeader, Committee, DaDomain } from '../../protocol/da/types.ts';
import { createLogger } from '../../shared/log.ts';
import { createCommitteeCache } from './committee.ts';
import { openDaStore } from './da-store.ts';
import type { DaStore } from './da-store.ts';
import { createDaNodeService } from './da-service.ts';

const domain: DaDomain = { chainId: 31337, contract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' };
const keys = [1, 2, 3].map((i) => blsKeyFromSeed(new Uint8Array(32).fill(i)));
const addresses: Address[] = ['0x1000000000000000000000000000000000000001', '0x2000000000000000000000000000000000000002', '0x3000000000000000000000000000000000000003'];
const committee: Committee = {
  epoch: 5n,
  replication: 2,
  members: addresses.map((address, index) => ({ index, address, url: `http://node-${index}`, stake: 10n ** 18n, publicKey: keys[index]!.publicKey })),
};

describe('DA node service (in process)', () => {
  let dir: string;
  let store: DaStore;
  let header: BlobHeader;
  let root: Hex;
  let encoded: { cells: Uint8Array[]; proofs: Uint8Array[] }[];
  let reads = 0;
  const service = (index: number, address: Address = addresses[index]!, chunk = 7, own: DaStore = store) =>
    createDaNodeService(
      { domain, maxPayloadBytes: 16 * 1024 * 1024, verifyChunkCells: chunk, storeChunkCells: 5, sessionIdleMs: 60_000, maxSessions: 4 },
      {
        store: own,
        committee: createCommitteeCache(async () => {
          reads++;
          return committee;
        }),
        address,
        bls: keys[index]!,
        log: createLogger({ level: 'silent' }),
      },
    );
  const request = (index: number, tamper?: number) => {
    const refs = assignedCells(blobSeed(epochSeed(domain, header.epoch), root), 3, 2, header.blobCount, index);
    const cells = refs.map((ref, i) => {
      const data = new Uint8Array(encoded[ref.blob]!.cells[ref.cell]!);
      if (i === tamper) data[63] = data[63]! ^ 1;
      return { ...ref, data, proof: encoded[ref.blob]!.proofs[ref.cell]! };
    });
    return encodeCustodyRequest({ header, cells });
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-da-service-'));
    store = openDaStore({ path: join(dir, 'da.sqlite') });
    const payload = new Uint8Array(randomBytes(130_000));
    const blobs = payloadToBlobs(payload);
    encoded = blobs.map((blob) => computeCellsAndProofs(blob));
    header = { epoch: committee.epoch, payloadSize: payload.length, blobCount: blobs.length, commitments: blobs.map((b) => bytesToHex(blobCommitment(b))) };
    root = dataRoot(header);
  });
  after(async () => {
    store.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a bad cell in a late chunk fails the whole set; nothing is stored', async () => {
    const node = service(1);
    const body = request(1, 60); // chunk 8 of ~13 (7 cells per chunk)
    await assert.rejects(node.custody(body), { code: 'DA_PROOF_INVALID' });
    assert.equal(store.attestation(root), undefined);
    assert.deepEqual(store.stats(), { roots: 0, cells: 0 });
  });

  test('a node outside the committee refuses custody', async () => {
    const outsider = service(0, '0x9000000000000000000000000000000000000009');
    await assert.rejects(outsider.custody(request(0)), { code: 'DA_NOT_IN_COMMITTEE' });
    assert.equal(store.attestation(root), undefined);
  });

  test('concurrent copies of one request store once and answer the same signature', async () => {
    const node = service(2);
    const answers = await Promise.all([node.custody(request(2)), node.custody(request(2)), node.custody(request(2))]);
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    assert.equal(answers[0]!.index, 2);
    assert.equal(blsVerify(keys[2]!.publicKey, attestationMessage(domain, root), Buffer.from(answers[0]!.signature.slice(2), 'hex')), true);
    assert.deepEqual(store.stats(), { roots: 1, cells: answers[0]!.cells });
    assert.deepEqual(node.header(root), header);
    assert.equal(node.cells(root, '0:0,0:1,0:2').length, 2, 'R = 2 of n = 3: two of any three consecutive cells');
  });

  test('the committee is read once per epoch; other epochs trigger a refresh and a 409', async () => {
    // Its own store: the shared one already holds this root as node 2's.
    const own = openDaStore({ path: join(dir, 'node-0.sqlite') });
    const node = service(0, addresses[0], 7, own);
    reads = 0;
    const stale: BlobHeader = { ...header, epoch: 4n };
    await assert.rejects(node.custody(encodeCustodyRequest({ header: stale, cells: [] })), { code: 'DA_WRONG_EPOCH' });
    await assert.rejects(node.custody(encodeCustodyRequest({ header: stale, cells: [] })), { code: 'DA_WRONG_EPOCH' });
    assert.equal(reads, 2);
    await node.custody(request(0));
    assert.equal(reads, 2, 'the cached committee already is epoch 5');
    own.close();
  });
});
