/**
 * What a DA certificate commits to and who may sign it: the data root, the signed messages, the custody seeds,
 * the quorum rule and the signer bitmap. DataAvailability.sol computes the same bytes on chain; the contract
 * test checks that a root and message built here verify there.
 */
import { encodeAbiParameters, hexToBytes, isAddress, keccak256, stringToBytes } from 'viem';
import type { Address, Hex } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { BYTES_PER_COMMITMENT } from './constants.ts';
import { coversAllCells } from './custody.ts';
import type { BlobHeader, Committee, DaDomain } from './types.ts';

export const DATA_ROOT_DOMAIN: Hex = keccak256(stringToBytes('levity.da.data-root.v1'));
export const ATTEST_DOMAIN: Hex = keccak256(stringToBytes('levity.da.attest.v1'));
export const POP_DOMAIN: Hex = keccak256(stringToBytes('levity.da.pop.v1'));
export const SEED_DOMAIN: Hex = keccak256(stringToBytes('levity.da.epoch-seed.v1'));

/** Signer bitmaps are uint256 on chain. */
export const MAX_SIGNER_INDEX = 255;
const EIP2537_G1_BYTES = 128;
const U64_MAX = (1n << 64n) - 1n;
const U32_MAX = 2 ** 32 - 1;

export type QuorumResult = { ok: true } | { ok: false; reason: 'stake' | 'coverage' | 'unknown-signer' | 'no-signers' };

/** keccak256 of the 48-byte commitments concatenated in blob order. */
export function commitmentsHash(commitments: readonly (Hex | Uint8Array)[]): Hex {
  const all = new Uint8Array(commitments.length * BYTES_PER_COMMITMENT);
  commitments.forEach((commitment, index) => {
    const bytes = typeof commitment === 'string' ? hexBytes(commitment) : commitment;
    if (!(bytes instanceof Uint8Array) || bytes.length !== BYTES_PER_COMMITMENT) {
      throw headerError(`commitment ${index} is not ${BYTES_PER_COMMITMENT} bytes`, { index });
    }
    all.set(bytes, index * BYTES_PER_COMMITMENT);
  });
  return keccak256(all);
}

/** keccak256(abi.encode(DATA_ROOT_DOMAIN, uint64 epoch, uint64 payloadSize, uint32 blobCount, commitmentsHash)). */
export function dataRoot(header: BlobHeader): Hex {
  const { epoch, payloadSize, blobCount, commitments } = header;
  if (typeof epoch !== 'bigint' || epoch < 0n || epoch > U64_MAX) throw headerError('epoch must be a uint64', { epoch: String(epoch) });
  if (!Number.isSafeInteger(payloadSize) || payloadSize < 0) throw headerError('payloadSize must be a non-negative integer', { payloadSize });
  if (!Number.isSafeInteger(blobCount) || blobCount < 0 || blobCount > U32_MAX) throw headerError('blobCount must be a uint32', { blobCount });
  if (!Array.isArray(commitments) || commitments.length !== blobCount) {
    throw headerError('there must be one commitment per blob', { blobCount, commitments: Array.isArray(commitments) ? commitments.length : null });
  }
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint64' }, { type: 'uint64' }, { type: 'uint32' }, { type: 'bytes32' }],
      [DATA_ROOT_DOMAIN, epoch, BigInt(payloadSize), blobCount, commitmentsHash(commitments)],
    ),
  );
}

/** The 32 bytes a node signs to attest `root`: keccak256(abi.encode(ATTEST_DOMAIN, chainId, contract, root)). */
export function attestationMessage(domain: DaDomain, root: Hex): Uint8Array {
  checkDomain(domain);
  return hexToBytes(
    keccak256(
      encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }, { type: 'bytes32' }],
        [ATTEST_DOMAIN, BigInt(domain.chainId), domain.contract, word(root, 'root')],
      ),
    ),
  );
}

/**
 * The 32 bytes a node signs to prove it holds the key it registers (bound to chain, contract and its address,
 * so a proof cannot be replayed by another account): keccak256(abi.encode(POP_DOMAIN, chainId, contract, node,
 * keccak256(publicKeyEip2537))).
 */
export function popMessage(domain: DaDomain, node: Address, publicKeyEip2537: Uint8Array): Uint8Array {
  checkDomain(domain);
  if (!isAddress(node, { strict: false })) throw new InvalidInputError('DA_ADDRESS_MALFORMED', 'Not an address', { meta: { node } });
  if (!(publicKeyEip2537 instanceof Uint8Array) || publicKeyEip2537.length !== EIP2537_G1_BYTES) {
    throw new InvalidInputError('DA_BLS_POINT_MALFORMED', `A registered public key is ${EIP2537_G1_BYTES} bytes (EIP-2537 G1)`);
  }
  return hexToBytes(
    keccak256(
      encodeAbiParameters(
        [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }, { type: 'address' }, { type: 'bytes32' }],
        [POP_DOMAIN, BigInt(domain.chainId), domain.contract, node, keccak256(publicKeyEip2537)],
      ),
    ),
  );
}

/** keccak256(abi.encode(SEED_DOMAIN, chainId, contract, uint64 epoch)): shifts custody per epoch. */
export function epochSeed(domain: DaDomain, epoch: bigint): Hex {
  checkDomain(domain);
  if (typeof epoch !== 'bigint' || epoch < 0n || epoch > U64_MAX) {
    throw new InvalidInputError('DA_EPOCH_INVALID', 'An epoch is a uint64', { meta: { epoch: String(epoch) } });
  }
  return keccak256(
    encodeAbiParameters(
      [{ type: 'bytes32' }, { type: 'uint256' }, { type: 'address' }, { type: 'uint64' }],
      [SEED_DOMAIN, BigInt(domain.chainId), domain.contract, epoch],
    ),
  );
}

/** keccak256(abi.encode(epochSeed, dataRoot)): the custody seed of one data root. */
export function blobSeed(epochSeed: Hex, root: Hex): Hex {
  return keccak256(encodeAbiParameters([{ type: 'bytes32' }, { type: 'bytes32' }], [word(epochSeed, 'epochSeed'), word(root, 'root')]));
}

/**
 * The quorum rule the contract enforces, checked in the contract's order: some signer, every index a member,
 * 3·signed stake ≥ 2·total stake, and every cell with a signing custodian. Repeated indexes count once.
 */
export function quorumHolds(committee: Committee, signerIndexes: readonly number[]): QuorumResult {
  const n = committee.members.length;
  if (signerIndexes.length === 0) return { ok: false, reason: 'no-signers' };
  if (signerIndexes.some((i) => !Number.isSafeInteger(i) || i < 0 || i >= n)) return { ok: false, reason: 'unknown-signer' };
  const signers = [...new Set(signerIndexes)];
  const total = committee.members.reduce((sum, member) => sum + member.stake, 0n);
  const signed = signers.reduce((sum, i) => sum + committee.members[i]!.stake, 0n);
  if (3n * signed < 2n * total) return { ok: false, reason: 'stake' };
  if (!coversAllCells(signers, n, Math.max(1, committee.replication))) return { ok: false, reason: 'coverage' };
  return { ok: true };
}

/** The uint256 whose bit i is set for each signer index i. */
export function signersBitmap(indexes: readonly number[]): bigint {
  let bitmap = 0n;
  for (const index of indexes) {
    if (!Number.isSafeInteger(index) || index < 0 || index > MAX_SIGNER_INDEX) {
      throw new InvalidInputError('DA_SIGNER_INVALID', `A signer index is an integer in [0, ${MAX_SIGNER_INDEX}]`, { meta: { index } });
    }
    bitmap |= 1n << BigInt(index);
  }
  return bitmap;
}

/** The set bits of a signer bitmap, ascending. */
export function bitmapIndexes(bitmap: bigint): number[] {
  if (typeof bitmap !== 'bigint' || bitmap < 0n || bitmap >> 256n !== 0n) {
    throw new InvalidInputError('DA_SIGNER_INVALID', 'A signer bitmap is a uint256', { meta: { bitmap: String(bitmap) } });
  }
  const indexes: number[] = [];
  for (let i = 0; bitmap !== 0n; i++, bitmap >>= 1n) {
    if (bitmap & 1n) indexes.push(i);
  }
  return indexes;
}

function checkDomain(domain: DaDomain): void {
  if (!Number.isSafeInteger(domain.chainId) || domain.chainId < 0 || !isAddress(domain.contract, { strict: false })) {
    throw new InvalidInputError('DA_DOMAIN_INVALID', 'A DA domain is a chain id and a contract address', {
      meta: { chainId: domain.chainId, contract: domain.contract },
    });
  }
}

function word(value: Hex, name: string): Hex {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new InvalidInputError('DA_ROOT_MALFORMED', `${name} must be 32 bytes of 0x-hex`, { meta: { [name]: String(value) } });
  }
  return value;
}

function hexBytes(value: string): Uint8Array | undefined {
  return /^0x(?:[0-9a-fA-F]{2})*$/.test(value) ? hexToBytes(value as Hex) : undefined;
}

function headerError(details: string, meta: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError('DA_HEADER_MALFORMED', 'Malformed blob header', { details, meta });
}
