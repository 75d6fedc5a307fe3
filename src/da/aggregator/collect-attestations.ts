import type { Hex } from 'viem';
import { bytesToHex, hexToBytes } from 'viem';
import { assignedCells } from '../../protocol/da/custody.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed, quorumHolds } from '../../protocol/da/certificate.ts';
import { blsVerify } from '../../protocol/da/bls.ts';
import { encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import type { BlobHeader, CellWithProof, Committee, CommitteeMember, DaDomain } from '../../protocol/da/types.ts';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { daNodeClient } from '../../sdk/da/node-client.ts';
import type { Logger } from '../../shared/log.ts';
import type { EncodedBlob } from '../encoder-pool.ts';


export type Attestation = { index: number; signature: Uint8Array };

export type NodeFailure = { index: number; url: string; code: string; message: string };

export type CollectOptions = {
  committee: Committee;
  domain: DaDomain;
  encoded: readonly EncodedBlob[];
  payloadSize: number;
  fetch: typeof fetch;
  log: Logger;
  /** How long one node may take to verify, store and sign its cells. */
  nodeTimeoutMs: number;
  /** How long to keep waiting for slower nodes once the quorum already holds (more signers, more margin). */
  graceMs: number;
};

export type CollectResult = {
  header: BlobHeader;
  root: Hex;
  attestations: Attestation[];
  failures: NodeFailure[];
};

/**
 * Sends every committee member exactly the cells it must custody and gathers their signed
 * attestations. Each signature is checked against the member's registered key before it counts.
 * Resolves once the quorum rule holds (after a short grace for stragglers) or every node has
 * answered; the caller decides what a result without a quorum means.
 */
export async function collectAttestations(options: CollectOptions): Promise<CollectResult> {
  const { committee, domain, encoded, payloadSize } = options;
  const header: BlobHeader = {
    epoch: committee.epoch,
    payloadSize,
    blobCount: encoded.length,
    commitments: encoded.map((blob) => bytesToHex(blob.commitment)),
  };
  const root = dataRoot(header);
  const seed = blobSeed(epochSeed(domain, committee.epoch), root);
  const message = attestationMessage(domain, root);
  const n = committee.members.length;
  const attestations: Attestation[] = [];
  const failures: NodeFailure[] = [];

  return new Promise<CollectResult>((resolve) => {
    let outstanding = n;
    let graceTimer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(graceTimer);
      resolve({ header, root, attestations: [...attestations], failures: [...failures] });
    };
    const settle = () => {
      outstanding -= 1;
      if (outstanding === 0) return finish();
      const holds = quorumHolds(committee, attestations.map((a) => a.index)).ok;
      if (holds && !graceTimer) graceTimer = setTimeout(finish, options.graceMs);
    };
    if (n === 0) return finish();
    for (const member of committee.members) {
      const cells: CellWithProof[] = assignedCells(seed, n, committee.replication, encoded.length, member.index).map((ref) => {
        const blob = encoded[ref.blob]!;
        return { ...ref, data: blob.cells[ref.cell]!, proof: blob.proofs[ref.cell]! };
      });
      requestAttestation(member, encodeCustodyRequest({ header, cells }), message, options)
        .then((signature) => attestations.push({ index: member.index, signature }))
        .catch((error: unknown) => {
          const code = (error as { code?: unknown }).code;
          failures.push({ index: member.index, url: member.url, code: typeof code === 'string' ? code : 'DA_NODE_FAILED', message: errorMessage(error) });
          options.log.warn({ node: member.url, err: errorMessage(error) }, 'DA node did not attest');
        })
        .finally(settle);
    }
  });
}

async function requestAttestation(member: CommitteeMember, body: Uint8Array, message: Uint8Array, options: CollectOptions): Promise<Uint8Array> {
  const node = daNodeClient(member.url, { fetch: options.fetch, timeoutMs: options.nodeTimeoutMs });
  const { signature } = await node.custody(body);
  const bytes = hexToBytes(signature);
  // A node signing with anything but its registered key would make the certificate revert.
  if (!blsVerify(member.publicKey, message, bytes)) {
    throw new UpstreamError('DA_NODE_BAD_SIGNATURE', `DA node ${member.url} returned a signature that does not verify under its registered key`);
  }
  return bytes;
}
