/**
 * Streaming custody: the commitments are known up front (so are the data root and who custodies which cell), and
 * each blob's cells go to their custodians as soon as an encoder has computed them. Every committee member gets a
 * session (POST /v1/custody/:root with the header), then its assigned cells in batches; it verifies and stores each
 * batch as it comes and signs once it holds its whole assignment, in the answer to the batch that completed it.
 *
 * Batching: a node verifies cells in one c-kzg batch per request, and that costs ~200 µs a cell for one blob's 64
 * cells against ~115 µs for 512 or more, which on a shared machine is CPU taken from the encoders. So while the
 * encoders are busy, a node's cells are gathered up to `batchCells`; once at most `tailBlobs` blobs are left to
 * encode, everything goes out as soon as it is ready, so little verification is left once encoding ends.
 */
import type { Hex } from 'viem';
import { bytesToHex, hexToBytes } from 'viem';
import { assignedCells } from '../../protocol/da/custody.ts';
import { attestationMessage, blobSeed, dataRoot, epochSeed, quorumHolds } from '../../protocol/da/certificate.ts';
import { blsVerify } from '../../protocol/da/bls.ts';
import { encodeCells, encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import type { BlobHeader, CellWithProof, Committee, CommitteeMember, DaDomain } from '../../protocol/da/types.ts';
import { UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { daNodeClient } from '../../sdk/da/node-client.ts';
import type { DaAttestation } from '../../sdk/da/node-client.ts';
import type { Logger } from '../../shared/log.ts';
import type { BlobCells } from '../encoder-pool.ts';

export type Attestation = { index: number; signature: Uint8Array };

export type NodeFailure = { index: number; url: string; code: string; message: string };

export type CollectOptions = {
  committee: Committee;
  domain: DaDomain;
  payloadSize: number;
  /** Every blob's commitment, in blob order: they fix the data root before any cell is sent. */
  commitments: readonly Uint8Array[];
  /** Every blob's cells and proofs as the encoders deliver them (in any order); a rejection fails the dispersal. */
  cells: readonly Promise<BlobCells>[];
  fetch: typeof fetch;
  log: Logger;
  /** How long one request to a node (open, or one batch verified and stored) may take. */
  nodeTimeoutMs: number;
  /** How long to keep waiting for slower nodes once the quorum already holds (more signers, more margin). */
  graceMs: number;
  batchCells?: number;
  tailBlobs?: number;
  /** Requests in flight to one node at most (a second one hides the round trip to a remote node). */
  maxInFlight?: number;
  /** Called with each request just before it is sent (tests watch the streaming order through it). */
  onSend?: (event: { index: number; kind: 'open' | 'cells'; cells: readonly { blob: number; cell: number }[] }) => void;
};

export const defaultCollectOptions = { batchCells: 512, tailBlobs: 4, maxInFlight: 2 } as const;

export type CollectResult = {
  header: BlobHeader;
  root: Hex;
  attestations: Attestation[];
  failures: NodeFailure[];
};

/**
 * Streams every committee member exactly the cells it must custody and gathers their signed attestations. Each
 * signature is checked against the member's registered key before it counts. Resolves once the quorum rule holds
 * (after a short grace for stragglers) or every node has answered; the caller decides what a result without a quorum
 * means. Rejects only if a blob cannot be encoded.
 */
export function collectAttestations(options: CollectOptions): Promise<CollectResult> {
  const { committee, domain, commitments, payloadSize } = options;
  const batchCells = options.batchCells ?? defaultCollectOptions.batchCells;
  const tailBlobs = options.tailBlobs ?? defaultCollectOptions.tailBlobs;
  const maxInFlight = options.maxInFlight ?? defaultCollectOptions.maxInFlight;
  const blobCount = commitments.length;
  const header: BlobHeader = { epoch: committee.epoch, payloadSize, blobCount, commitments: commitments.map((c) => bytesToHex(c)) };
  const root = dataRoot(header);
  const seed = blobSeed(epochSeed(domain, committee.epoch), root);
  const message = attestationMessage(domain, root);
  const n = committee.members.length;
  const attestations: Attestation[] = [];
  const failures: NodeFailure[] = [];
  let encodedBlobs = 0;

  return new Promise<CollectResult>((resolve, reject) => {
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

    const streams = committee.members.map((member) => {
      const byBlob: number[][] = Array.from({ length: blobCount }, () => []);
      for (const ref of assignedCells(seed, n, committee.replication, blobCount, member.index)) byBlob[ref.blob]!.push(ref.cell);
      return nodeStream({
        member,
        byBlob,
        root,
        header,
        message,
        options,
        maxInFlight,
        // Small batches once the encoders are nearly done, or for whatever is left when they are.
        flushNow: (queuedBlobs) => queuedBlobs === blobCount || blobCount - encodedBlobs <= tailBlobs,
        batchCells,
        stopped: () => done,
        onAttestation: (signature) => {
          attestations.push({ index: member.index, signature });
          settle();
        },
        onFailure: (failure) => {
          failures.push(failure);
          options.log.warn({ node: member.url, code: failure.code, err: failure.message }, 'DA node did not attest');
          settle();
        },
      });
    });

    options.cells.forEach((cells, blob) => {
      cells.then(
        (encoded) => {
          if (done) return;
          encodedBlobs++;
          for (const stream of streams) stream.push(blob, encoded);
          for (const stream of streams) stream.pump();
        },
        (error: unknown) => {
          if (done) return;
          done = true;
          clearTimeout(graceTimer);
          reject(error);
        },
      );
    });
  });
}

type NodeStreamParams = {
  member: CommitteeMember;
  /** The member's assigned cell indexes, per blob. */
  byBlob: number[][];
  root: Hex;
  header: BlobHeader;
  message: Uint8Array;
  options: CollectOptions;
  maxInFlight: number;
  batchCells: number;
  flushNow: (queuedBlobs: number) => boolean;
  stopped: () => boolean;
  onAttestation: (signature: Uint8Array) => void;
  onFailure: (failure: NodeFailure) => void;
};

/** One member's session: opened at once, fed batch by batch, ended by its attestation or its first failure. */
function nodeStream(params: NodeStreamParams) {
  const { member, root, options } = params;
  const node = daNodeClient(member.url, { fetch: options.fetch, timeoutMs: options.nodeTimeoutMs });
  const expected = params.byBlob.reduce((sum, cells) => sum + cells.length, 0);
  let queue: CellWithProof[] = [];
  let queuedBlobs = 0;
  let inFlight = 0;
  let ended = false;

  const fail = (error: unknown) => {
    if (ended) return;
    ended = true;
    const code = (error as { code?: unknown }).code;
    params.onFailure({ index: member.index, url: member.url, code: typeof code === 'string' ? code : 'DA_NODE_FAILED', message: errorMessage(error) });
  };
  const attested = (attestation: DaAttestation) => {
    if (ended) return;
    const signature = hexToBytes(attestation.signature);
    // A node signing with anything but its registered key would make the certificate revert.
    if (!blsVerify(member.publicKey, params.message, signature)) {
      return fail(new UpstreamError('DA_NODE_BAD_SIGNATURE', `DA node ${member.url} returned a signature that does not verify under its registered key`));
    }
    ended = true;
    params.onAttestation(signature);
  };

  options.onSend?.({ index: member.index, kind: 'open', cells: [] });
  const opened = node.openCustody(root, encodeCustodyRequest({ header: params.header, cells: [] }));
  opened.then((progress) => progress.attestation && attested(progress.attestation), fail);

  const pump = (): void => {
    if (ended || params.stopped() || queue.length === 0 || inFlight >= params.maxInFlight) return;
    if (queue.length < params.batchCells && !params.flushNow(queuedBlobs)) return;
    const batch = queue;
    queue = [];
    inFlight++;
    opened
      .then(() => {
        if (ended || params.stopped()) return undefined;
        options.onSend?.({ index: member.index, kind: 'cells', cells: batch });
        return node.sendCells(root, encodeCells(batch));
      })
      .then(async (progress) => {
        inFlight--;
        if (!progress || ended) return;
        if (progress.attestation) return attested(progress.attestation);
        if (queuedBlobs < params.byBlob.length || queue.length > 0 || inFlight > 0) return pump();
        // Everything was sent and acknowledged without a signature: ask once more, then give up on this node.
        const last = await node.openCustody(root, encodeCustodyRequest({ header: params.header, cells: [] }));
        if (last.attestation) return attested(last.attestation);
        throw new UpstreamError('DA_NODE_INCOMPLETE', `DA node ${member.url} holds ${last.received} of its ${expected} cells after all were sent`);
      })
      .catch(fail);
  };

  return {
    push(blob: number, encoded: BlobCells): void {
      queuedBlobs++;
      if (ended) return;
      for (const cell of params.byBlob[blob]!) queue.push({ blob, cell, data: encoded.cells[cell]!, proof: encoded.proofs[cell]! });
    },
    pump,
  };
}
