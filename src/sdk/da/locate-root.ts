/**
 * The trusted starting point of every read: the certificate on chain (no certificate, no
 * read), the committee of the certificate's epoch, and a header from any node that hashes to the
 * root, which makes the header as trustworthy as the root itself.
 */
import { hexToBytes } from 'viem';
import type { Address, Hex, PublicClient } from 'viem';
import { blobSeed, dataRoot, epochSeed } from '../../protocol/da/certificate.ts';
import type { BlobHeader, Committee, CommitteeMember } from '../../protocol/da/types.ts';
import { NotFoundError, errorMessage, isLevityError } from '../../protocol/errors.ts';
import { committeeAt, publicClientFor, readCertificate, readCommittee } from './committee.ts';
import type { CertificateRecord } from './committee.ts';
import { assertRoot, DaClientErrorCode } from './da-http.ts';
import type { FetchLike } from './da-http.ts';
import { daNodeClient } from './node-client.ts';
import type { DaNodeClient } from './node-client.ts';

export type ReadSourceParameters = {
  /** EVM JSON-RPC URL; or pass `client`. */
  rpc?: string;
  client?: PublicClient;
  /** The DataAvailability contract. */
  contract: Address;
  root: Hex;
  /** Injected into every node request (tests add faults through it). */
  fetch?: FetchLike;
  /** Limit on each node request (default 30 s). */
  timeoutMs?: number;
};

/** A node that answered something provably wrong (a header not matching the root, cells failing their proofs). */
export type BadNode = { node: Address; index: number; url: string; reason: string; cells: number };
/** A node that did not answer, or answered without the data (it is skipped, not blamed). */
export type UnreachableNode = { node: Address; index: number; url: string; reason: string };

export type LocatedRoot = {
  root: Hex;
  certificate: CertificateRecord;
  committee: Committee;
  header: BlobHeader;
  commitments: Uint8Array[];
  /** Seeds custody: cell (b, c) lives on nodes derived from it. */
  seed: Hex;
  nodes: Array<{ member: CommitteeMember; client: DaNodeClient }>;
  badNodes: BadNode[];
  unreachable: UnreachableNode[];
};

export async function locateRoot(parameters: ReadSourceParameters): Promise<LocatedRoot> {
  assertRoot(parameters.root);
  const root = parameters.root.toLowerCase() as Hex;
  const client = publicClientFor(parameters);
  const certificate = await readCertificate({ client, contract: parameters.contract, root });
  if (!certificate) {
    throw new NotFoundError(DaClientErrorCode.notCertified, `no certificate for data root ${root} on the DataAvailability contract`, {
      details: 'only certified data can be read; the aggregator may still be working on it (`levity da status ID`)',
      meta: { root, contract: parameters.contract },
    });
  }
  const [chainId, current] = await Promise.all([client.getChainId(), readCommittee({ client, contract: parameters.contract })]);
  const committee = committeeAt(current, certificate.epoch);
  const nodes = committee.members.map((member) => ({ member, client: clientFor(member, parameters) }));
  const badNodes: BadNode[] = [];
  const unreachable: UnreachableNode[] = [];
  const header = await findHeader(root, nodes, certificate, badNodes, unreachable);
  return {
    root,
    certificate,
    committee,
    header,
    commitments: header.commitments.map((commitment) => hexToBytes(commitment)),
    seed: blobSeed(epochSeed({ chainId, contract: parameters.contract }, certificate.epoch), root),
    nodes,
    badNodes,
    unreachable,
  };
}

/**
 * Asks nodes one at a time (signers of the certificate first: they stored the data) until one
 * sends a header that hashes to the root. A wrong header is proof of a lie; a missing one is not.
 */
async function findHeader(
  root: Hex,
  nodes: LocatedRoot['nodes'],
  certificate: CertificateRecord,
  badNodes: BadNode[],
  unreachable: UnreachableNode[],
): Promise<BlobHeader> {
  const signers = new Set(certificate.signers);
  const order = [...nodes].sort((a, b) => Number(signers.has(b.member.index)) - Number(signers.has(a.member.index)) || a.member.index - b.member.index);
  for (const { member, client } of order) {
    let header: BlobHeader;
    try {
      header = await client.header(root);
    } catch (error) {
      noteUnreachable(unreachable, member, reasonOf(error));
      continue;
    }
    let hashed: Hex | undefined;
    try {
      hashed = dataRoot(header);
    } catch {
      hashed = undefined;
    }
    if (hashed?.toLowerCase() === root) return header;
    noteBad(badNodes, member, `sent a header that hashes to ${hashed ?? 'nothing'}, not the root`, 0);
  }
  throw new NotFoundError(DaClientErrorCode.headerUnavailable, `no DA node of epoch ${certificate.epoch} sent a header for ${root}`, {
    details: [...badNodes, ...unreachable].map((node) => `${node.url}: ${node.reason}`).join('; ') || 'the committee is empty',
    meta: { root },
  });
}

/** A member registered with an unusable URL gets a client that always fails: it is skipped, not fatal. */
function clientFor(member: CommitteeMember, parameters: ReadSourceParameters): DaNodeClient {
  try {
    return daNodeClient(member.url, { fetch: parameters.fetch, timeoutMs: parameters.timeoutMs });
  } catch (error) {
    const fail = () => Promise.reject(error);
    return { url: member.url, info: fail, header: fail, cells: fail, custody: fail, openCustody: fail, sendCells: fail };
  }
}

/** Records a node as unreachable once, however many of its requests failed. */
export function noteUnreachable(list: UnreachableNode[], member: CommitteeMember, reason: string): void {
  if (list.some((node) => node.index === member.index)) return;
  list.push({ node: member.address, index: member.index, url: member.url, reason });
}

/** Records a lying node once, adding up its bad cells and keeping every reason. */
export function noteBad(list: BadNode[], member: CommitteeMember, reason: string, cells: number): void {
  const known = list.find((node) => node.index === member.index);
  if (!known) {
    list.push({ node: member.address, index: member.index, url: member.url, reason, cells });
    return;
  }
  known.cells += cells;
  if (!known.reason.includes(reason)) known.reason = `${known.reason}; ${reason}`;
}

export function reasonOf(error: unknown): string {
  return isLevityError(error) ? `${error.code}: ${error.shortMessage}` : errorMessage(error);
}
