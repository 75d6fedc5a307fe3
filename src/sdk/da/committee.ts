/**
 * What the DataAvailability contract says: the committee (who holds what) and the certificate
 * of a data root (whether it is available at all). Everything a reader trusts starts here.
 */
import { createPublicClient, getAddress, hexToBytes, http } from 'viem';
import type { Address, Hex, PublicClient } from 'viem';
import { g1FromEip2537 } from '../../protocol/da/bls-eip2537.ts';
import { bitmapIndexes } from '../../protocol/da/certificate.ts';
import { dataAvailabilityAbi } from '../../protocol/da/da-contract-abi.ts';
import type { Committee } from '../../protocol/da/types.ts';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { assertRoot, DaClientErrorCode, invalidInput } from './da-http.ts';

export type ReadCommitteeParameters = { client: PublicClient; contract: Address };

/** The contract's current committee: members in registration order, keys as 48-byte compressed G1, R capped at n. */
export async function readCommittee(parameters: ReadCommitteeParameters): Promise<Committee> {
  const contract = checkAddress(parameters.contract);
  const [epoch, replication, nodes, urls, stakes, publicKeys] = await chainCall(contract, 'committee', () =>
    parameters.client.readContract({ address: contract, abi: dataAvailabilityAbi, functionName: 'committee' }),
  );
  return {
    epoch,
    replication: Math.min(Number(replication), nodes.length),
    members: nodes.map((address, index) => ({
      index,
      address: getAddress(address),
      url: urls[index] ?? '',
      stake: stakes[index] ?? 0n,
      publicKey: g1FromEip2537(hexToBytes(publicKeys[index] ?? '0x')),
    })),
  };
}

/**
 * The committee as it stood in `epoch`. Nodes only ever join (each registration is a new epoch
 * and appends one member), so epoch e's node set is the first e registered nodes.
 */
export function committeeAt(committee: Committee, epoch: bigint): Committee {
  if (epoch > committee.epoch || epoch < 1n) {
    throw invalidInput(`epoch ${epoch} is not one the contract has had (it is at epoch ${committee.epoch})`);
  }
  const members = committee.members.slice(0, Number(epoch));
  // The current R is already min(contract R, n now); capping again at this epoch's n gives min(contract R, n then).
  return { epoch, replication: Math.min(committee.replication, members.length), members };
}

/** The on-chain record of a certified data root. */
export type CertificateRecord = {
  dataRoot: Hex;
  epoch: bigint;
  payloadSize: number;
  blobCount: number;
  commitmentsHash: Hex;
  /** Indexes of the nodes whose signatures the certificate aggregates. */
  signers: number[];
  /** The block the certificate landed in. */
  blockNumber: bigint;
};

export type ReadCertificateParameters = ReadCommitteeParameters & { root: Hex };

/** The certificate of `root`, or undefined when the contract has certified no such root. */
export async function readCertificate(parameters: ReadCertificateParameters): Promise<CertificateRecord | undefined> {
  const contract = checkAddress(parameters.contract);
  assertRoot(parameters.root);
  const root = parameters.root;
  const [epoch, payloadSize, blobCount, commitmentsHash, signers, blockNumber] = await chainCall(contract, 'certificateOf', () =>
    parameters.client.readContract({ address: contract, abi: dataAvailabilityAbi, functionName: 'certificateOf', args: [root] }),
  );
  // The contract answers all zeros for a root it never certified, and no payload is empty.
  if (payloadSize === 0n) return undefined;
  return {
    dataRoot: root,
    epoch,
    payloadSize: Number(payloadSize),
    blobCount: Number(blobCount),
    commitmentsHash,
    signers: bitmapIndexes(signers),
    blockNumber,
  };
}

/** A client for an RPC URL, or the one given: actions accept either. */
export function publicClientFor(parameters: { rpc?: string; client?: PublicClient }): PublicClient {
  if (parameters.client) return parameters.client;
  if (typeof parameters.rpc !== 'string' || !/^https?:\/\//.test(parameters.rpc)) throw invalidInput('give an rpc URL or a viem client');
  return createPublicClient({ transport: http(parameters.rpc, { retryCount: 1 }) }) as PublicClient;
}

function checkAddress(value: unknown): Address {
  if (typeof value !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(value)) throw invalidInput('the DataAvailability contract must be a 20-byte 0x address', `got ${String(value)}`);
  return getAddress(value);
}

/** A failed chain read as a typed error naming the contract and the call. */
async function chainCall<T>(contract: Address, call: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (cause) {
    throw new UpstreamError(DaClientErrorCode.chainError, `cannot read ${call}() of the DataAvailability contract at ${contract}`, {
      details: errorMessage(cause).split('\n')[0],
      meta: { contract, call },
      cause,
    });
  }
}
