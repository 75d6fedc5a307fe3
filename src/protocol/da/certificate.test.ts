import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bytesToHex, concat, encodeAbiParameters, keccak256, stringToBytes } from 'viem';
import type { Address, Hex } from 'viem';
import {
  ATTEST_DOMAIN,
  attestationMessage,
  bitmapIndexes,
  blobSeed,
  commitmentsHash,
  DATA_ROOT_DOMAIN,
  dataRoot,
  epochSeed,
  POP_DOMAIN,
  popMessage,
  quorumHolds,
  signersBitmap,
} from './certificate.ts';
import type { BlobHeader, Committee, DaDomain } from './types.ts';

const contract: Address = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const domain: DaDomain = { chainId: 31337, contract };
const commitment = (b: number): Hex => bytesToHex(new Uint8Array(48).fill(b));
const header: BlobHeader = { epoch: 4n, payloadSize: 300_000, blobCount: 3, commitments: [commitment(1), commitment(2), commitment(3)] };

function committee(stakes: bigint[], replication = 2): Committee {
  return {
    epoch: BigInt(stakes.length),
    replication,
    members: stakes.map((stake, index) => ({
      index,
      address: `0x${(index + 1).toString(16).padStart(40, '0')}` as Address,
      url: `http://da${index}`,
      stake,
      publicKey: new Uint8Array(48),
    })),
  };
}

describe('data root', () => {
  it('hashes the commitments in order', () => {
    assert.equal(commitmentsHash(header.commitments), keccak256(concat(header.commitments)));
    assert.equal(commitmentsHash(header.commitments.map((c) => Uint8Array.from(Buffer.from(c.slice(2), 'hex')))), keccak256(concat(header.commitments)));
    assert.notEqual(commitmentsHash([commitment(2), commitment(1)]), commitmentsHash([commitment(1), commitment(2)]));
    assert.equal(commitmentsHash([]), keccak256('0x'));
    assert.throws(() => commitmentsHash(['0x1234']), { code: 'DA_HEADER_MALFORMED' });
  });

  it('is keccak256(abi.encode(domain, epoch, payloadSize, blobCount, commitmentsHash))', () => {
    assert.equal(DATA_ROOT_DOMAIN, keccak256(stringToBytes('levity.da.data-root.v1')));
    const expected = keccak256(
      encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint64' }, { type: 'uint64' }, { type: 'uint32' }, { type: 'bytes32' }],
        [DATA_ROOT_DOMAIN, 4n, 300_000n, 3, keccak256(concat(header.commitments))],
      ),
    );
    assert.equal(dataRoot(header), expected);
  });

  it('changes with every field', () => {
    const roots = new Set([
      dataRoot(header),
      dataRoot({ ...header, epoch: 5n }),
      dataRoot({ ...header, payloadSize: 300_001 }),
      dataRoot({ ...header, blobCount: 2, commitments: header.commitments.slice(0, 2) }),
      dataRoot({ ...header, commitments: [commitment(1), commitment(2), commitment(4)] }),
    ]);
    assert.equal(roots.size, 5);
  });

  it('refuses an inconsistent header with DA_HEADER_MALFORMED', () => {
    const bad = { code: 'DA_HEADER_MALFORMED' };
    assert.throws(() => dataRoot({ ...header, blobCount: 2 }), bad);
    assert.throws(() => dataRoot({ ...header, epoch: -1n }), bad);
    assert.throws(() => dataRoot({ ...header, epoch: 1n << 64n }), bad);
    assert.throws(() => dataRoot({ ...header, payloadSize: 1.5 }), bad);
    assert.throws(() => dataRoot({ ...header, commitments: [commitment(1), commitment(2), '0xzz'] }), bad);
  });
});

describe('signed messages and seeds', () => {
  const root = dataRoot(header);

  it('binds the attestation to chain, contract and root', () => {
    const message = attestationMessage(domain, root);
    assert.equal(message.length, 32);
    const expected = keccak256(
      encodeAbiParameters([{ type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }, { type: 'bytes32' }], [ATTEST_DOMAIN, 31337n, contract, root]),
    );
    assert.equal(bytesToHex(message), expected);
    const others = [
      attestationMessage({ ...domain, chainId: 1 }, root),
      attestationMessage({ ...domain, contract: '0x0000000000000000000000000000000000000001' }, root),
      attestationMessage(domain, dataRoot({ ...header, epoch: 5n })),
    ];
    for (const other of others) assert.notDeepEqual(other, message);
    assert.throws(() => attestationMessage(domain, '0x12'), { code: 'DA_ROOT_MALFORMED' });
    assert.throws(() => attestationMessage({ chainId: 1, contract: '0xnope' as Address }, root), { code: 'DA_DOMAIN_INVALID' });
  });

  it('binds the proof of possession to the node and its key', () => {
    const key = new Uint8Array(128).fill(7);
    const node: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
    const expected = keccak256(
      encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }, { type: 'address' }, { type: 'bytes32' }],
        [POP_DOMAIN, 31337n, contract, node, keccak256(key)],
      ),
    );
    assert.equal(bytesToHex(popMessage(domain, node, key)), expected);
    assert.notDeepEqual(popMessage(domain, contract, key), popMessage(domain, node, key));
    assert.notDeepEqual(popMessage(domain, node, new Uint8Array(128).fill(8)), popMessage(domain, node, key));
    assert.throws(() => popMessage(domain, node, new Uint8Array(48)), { code: 'DA_BLS_POINT_MALFORMED' });
  });

  it('derives custody seeds per epoch and per root', () => {
    const e4 = epochSeed(domain, 4n);
    assert.equal(e4, epochSeed(domain, 4n));
    assert.notEqual(e4, epochSeed(domain, 5n));
    assert.notEqual(e4, epochSeed({ ...domain, chainId: 1 }, 4n));
    assert.equal(blobSeed(e4, root), keccak256(concat([e4, root])));
    assert.notEqual(blobSeed(e4, root), blobSeed(epochSeed(domain, 5n), root));
    assert.throws(() => epochSeed(domain, -1n), { code: 'DA_EPOCH_INVALID' });
  });
});

describe('quorumHolds', () => {
  const equal = committee([1n, 1n, 1n, 1n]);

  it('accepts 3 of 4 equal stakes and all 4', () => {
    assert.deepEqual(quorumHolds(equal, [0, 1, 2]), { ok: true });
    assert.deepEqual(quorumHolds(equal, [3, 1, 2, 0]), { ok: true });
  });

  it('names the first rule that fails, in the contract order', () => {
    assert.deepEqual(quorumHolds(equal, []), { ok: false, reason: 'no-signers' });
    assert.deepEqual(quorumHolds(equal, [0, 1, 4]), { ok: false, reason: 'unknown-signer' });
    assert.deepEqual(quorumHolds(equal, [0, -1]), { ok: false, reason: 'unknown-signer' });
    assert.deepEqual(quorumHolds(equal, [0, 2]), { ok: false, reason: 'stake' });
    // Repeated signers count once.
    assert.deepEqual(quorumHolds(equal, [0, 2, 2, 0]), { ok: false, reason: 'stake' });
    // Exactly two thirds is enough.
    assert.deepEqual(quorumHolds(committee([1n, 1n, 1n]), [0, 1]), { ok: true });
    // 20 of 22 staked, but nodes 0 and 1 (adjacent, replication 2) both missing.
    const skewed = committee([10n ** 18n, 10n ** 18n, 10n ** 19n, 10n ** 19n]);
    assert.deepEqual(quorumHolds(skewed, [2, 3]), { ok: false, reason: 'coverage' });
    assert.deepEqual(quorumHolds(skewed, [1, 3]), { ok: false, reason: 'stake' });
    assert.deepEqual(quorumHolds(skewed, [1, 2, 3]), { ok: true });
  });

  it('needs every node with replication 1, and any 2 of 3 with replication 3', () => {
    assert.deepEqual(quorumHolds(committee([1n, 1n, 1n, 1n], 1), [0, 1, 2]), { ok: false, reason: 'coverage' });
    assert.deepEqual(quorumHolds(committee([1n, 1n, 1n], 3), [0, 2]), { ok: true });
  });
});

describe('signer bitmaps', () => {
  it('round-trips indexes, sorted and without repeats', () => {
    assert.equal(signersBitmap([1, 2, 3]), 0b1110n);
    assert.equal(signersBitmap([]), 0n);
    assert.equal(signersBitmap([255]), 1n << 255n);
    assert.deepEqual(bitmapIndexes(signersBitmap([3, 0, 3, 63])), [0, 3, 63]);
    assert.deepEqual(bitmapIndexes(0n), []);
  });

  it('refuses what a uint256 cannot hold', () => {
    assert.throws(() => signersBitmap([256]), { code: 'DA_SIGNER_INVALID' });
    assert.throws(() => signersBitmap([-1]), { code: 'DA_SIGNER_INVALID' });
    assert.throws(() => signersBitmap([0.5]), { code: 'DA_SIGNER_INVALID' });
    assert.throws(() => bitmapIndexes(1n << 256n), { code: 'DA_SIGNER_INVALID' });
    assert.throws(() => bitmapIndexes(-1n), { code: 'DA_SIGNER_INVALID' });
  });
});
