import type { Hex } from 'viem';
import { hexToBytes } from 'viem';
import { assignedCells } from '../../protocol/da/custody.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed, quorumHolds } from '../../protocol/da/certificate.ts';
import { blsVerify } from '../../protocol/da/bls.ts';
import { encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import type { BlobHeader, CellWithProof, Committee, CommitteeMember, DaDomain } from '../../protocol/da/types.ts';
import { ConflictError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
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
    commitments: encoded.map((blob) => toHexBytes(blob.commitment)),
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
  const url = `${member.url.replace(/\/$/, '')}/v1/custody`;
  let response: Response;
  try {
    response = await options.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body,
      signal: AbortSignal.timeout(options.nodeTimeoutMs),
    });
  } catch (cause) {
    throw new UpstreamError('DA_NODE_UNREACHABLE', `DA node ${member.url} is unreachable: ${errorMessage(cause)}`, { cause });
  }
  const text = await response.text();
  const parsed = parseJson(text);
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
    const code = error?.code ?? 'DA_NODE_FAILED';
    const detail = error?.message ?? text.slice(0, 200);
    if (code === 'DA_WRONG_EPOCH') throw new ConflictError(code, `DA node ${member.url} is in another epoch: ${detail}`);
    throw new UpstreamError(code, `DA node ${member.url} refused the cells (${response.status}): ${detail}`);
  }
  const signature = (parsed as { signature?: unknown } | undefined)?.signature;
  if (typeof signature !== 'string' || !/^0x[0-9a-fA-F]{192}$/.test(signature)) {
    throw new UpstreamError('DA_NODE_BAD_RESPONSE', `DA node ${member.url} answered without a 96-byte signature`);
  }
  const bytes = hexToBytes(signature as Hex);
  // A node signing with anything but its registered key would make the certificate revert.
  if (!blsVerify(member.publicKey, message, bytes)) {
    throw new UpstreamError('DA_NODE_BAD_SIGNATURE', `DA node ${member.url} returned a signature that does not verify under its registered key`);
  }
  return bytes;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function toHexBytes(bytes: Uint8Array): Hex {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}`;
}
