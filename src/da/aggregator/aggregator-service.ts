import { randomUUID } from 'node:crypto';
import { BaseError, ContractFunctionRevertedError, bytesToHex } from 'viem';
import type { Account, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import { blsAggregateSignatures } from '../../protocol/da/bls.ts';
import { g2ToEip2537 } from '../../protocol/da/bls-eip2537.ts';
import { commitmentsHash, quorumHolds, signersBitmap } from '../../protocol/da/certificate.ts';
import { dataAvailabilityAbi } from '../../protocol/da/da-contract-abi.ts';
import type { DaDomain } from '../../protocol/da/types.ts';
import { LevityError, errorMessage } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { readCommittee } from '../../sdk/da/committee.ts';
import { collectAttestations } from './collect-attestations.ts';
import type { NodeFailure } from './collect-attestations.ts';
import type { BlobCells } from '../encoder-pool.ts';
import type { DispersalJob, JobStore, PendingCertificate } from './job-store.ts';

export type AggregatorServiceOptions = {
  store: JobStore;
  client: PublicClient;
  wallet: WalletClient<Transport, Chain, Account>;
  domain: DaDomain;
  log: Logger;
  fetch: typeof fetch;
  nodeTimeoutMs: number;
  graceMs: number;
  /** Blobs left to encode below which each blob's cells go out at once (see collect-attestations.ts). */
  tailBlobs?: number;
  /** Cells gathered per node before a send while the encoders are busy. */
  batchCells?: number;
};

/**
 * A payload being encoded: per blob its commitment (the encoders compute these first) and its cells and proofs.
 * Dispersal starts once every commitment is known and streams each blob's cells as they arrive.
 */
export type PayloadEncoding = {
  commitments: readonly Promise<Uint8Array>[];
  cells: readonly Promise<BlobCells>[];
};

/** Tries a dispersal again when the committee changed under it (a registration started a new epoch). */
const EPOCH_ATTEMPTS = 3;

class JobFailure extends LevityError {
  override name = 'JobFailure';
}

/**
 * Runs dispersal jobs: encoded blobs in, a certificate on chain out. Every status change is
 * saved before it is visible, so a client polling after a restart sees what really happened.
 */
export function createAggregatorService(options: AggregatorServiceOptions) {
  const { store, client, wallet, domain, log } = options;
  const waiters = new Map<string, Set<(job: DispersalJob) => void>>();
  let stopping = false;
  // One transaction at a time from the aggregator's account keeps nonces in order.
  let chainQueue: Promise<unknown> = Promise.resolve();

  const publish = (job: DispersalJob, certificate?: PendingCertificate) => {
    if (stopping) return;
    store.save(job, certificate);
    if (job.status !== 'confirmed' && job.status !== 'failed') return;
    for (const wake of waiters.get(job.id) ?? []) wake(job);
    waiters.delete(job.id);
  };

  async function submitCertificate(certificate: PendingCertificate): Promise<{ txHash: Hex; gasUsed: bigint }> {
    const run = async () => {
      const args = [
        {
          epoch: BigInt(certificate.epoch),
          payloadSize: BigInt(certificate.payloadSize),
          blobCount: certificate.blobCount,
          commitmentsHash: certificate.commitmentsHash,
          signers: BigInt(certificate.signers),
          signature: certificate.signature,
        },
      ] as const;
      try {
        const hash = await wallet.writeContract({ address: domain.contract, abi: dataAvailabilityAbi, functionName: 'submitCertificate', args });
        const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
        if (receipt.status !== 'success') throw new JobFailure('DA_CERTIFICATE_REVERTED', `the certificate transaction ${hash} reverted`);
        return { txHash: hash, gasUsed: receipt.gasUsed };
      } catch (error) {
        throw certificateError(error);
      }
    };
    const result = chainQueue.then(run, run);
    chainQueue = result.catch(() => undefined);
    return result;
  }

  async function run(job: DispersalJob, encoding: PayloadEncoding, startedAt: number): Promise<void> {
    const timings: NonNullable<DispersalJob['timings']> = {};
    const since = (start: number) => Math.round(performance.now() - start);
    const blobCount = encoding.commitments.length;
    job.blobCount = blobCount;
    let encodedAt: number | undefined;
    void Promise.all(encoding.cells).then(
      () => {
        encodedAt = performance.now();
        timings.encodeMs = since(startedAt);
      },
      () => undefined, // the dispersal sees the same rejection and fails the job
    );
    const commitments = await Promise.all(encoding.commitments);
    timings.commitMs = since(startedAt);
    for (let attempt = 1; ; attempt++) {
      const disperseStart = performance.now();
      const committee = await readCommittee({ client, contract: domain.contract });
      if (committee.members.length === 0) throw new JobFailure('DA_NO_COMMITTEE', 'no DA node is registered on the contract');
      const collected = await collectAttestations({
        committee,
        domain,
        commitments,
        cells: encoding.cells,
        payloadSize: job.payloadSize,
        fetch: options.fetch,
        log,
        nodeTimeoutMs: options.nodeTimeoutMs,
        graceMs: options.graceMs,
        ...(options.tailBlobs === undefined ? {} : { tailBlobs: options.tailBlobs }),
        ...(options.batchCells === undefined ? {} : { batchCells: options.batchCells }),
      });
      timings.disperseMs = since(disperseStart);
      // What was left after the last blob was encoded: verification, storage and signing not hidden behind encoding.
      if (encodedAt !== undefined) timings.tailMs = since(encodedAt);
      const signers = collected.attestations.map((a) => a.index).sort((a, b) => a - b);
      Object.assign(job, { dataRoot: collected.root, epoch: committee.epoch.toString(), signers, timings });
      const quorum = quorumHolds(committee, signers);
      if (!quorum.ok) {
        const epochMoved = collected.failures.some((f) => f.code === 'DA_WRONG_EPOCH');
        if (epochMoved && attempt < EPOCH_ATTEMPTS) continue;
        throw new JobFailure('DA_QUORUM_NOT_REACHED', `the quorum rule does not hold (${quorum.reason}) with signers [${signers.join(', ')}]`, {
          meta: { failures: describeFailures(collected.failures) },
        });
      }
      const certificate: PendingCertificate = {
        epoch: committee.epoch.toString(),
        payloadSize: job.payloadSize,
        blobCount,
        commitmentsHash: commitmentsHash(collected.header.commitments),
        signers: signersBitmap(signers).toString(),
        signature: bytesToHex(g2ToEip2537(blsAggregateSignatures(collected.attestations.map((a) => a.signature)))),
      };
      job.status = 'dispersed';
      publish(job, certificate);
      const certifyStart = performance.now();
      try {
        const { txHash, gasUsed } = await submitCertificate(certificate);
        timings.certifyMs = Math.round(performance.now() - certifyStart);
        Object.assign(job, { status: 'confirmed', txHash, gasUsed: gasUsed.toString(), timings });
        publish(job);
        log.info({ id: job.id, root: job.dataRoot, signers, gasUsed: gasUsed.toString(), ...timings }, 'DA certificate confirmed');
        return;
      } catch (error) {
        if (error instanceof JobFailure && error.code === 'DA_WRONG_EPOCH' && attempt < EPOCH_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  function fail(job: DispersalJob, error: unknown): void {
    const code = error instanceof LevityError ? error.code : 'DA_DISPERSAL_FAILED';
    job.status = 'failed';
    job.error = { code, message: errorMessage(error) };
    if (!stopping) log.warn({ id: job.id, code, err: job.error.message }, 'DA dispersal failed');
    publish(job);
  }

  return {
    /** Starts a job whose blobs are being encoded; returns at once with its pending record. */
    submit(payloadSize: number, encoding: PayloadEncoding, startedAt: number): DispersalJob {
      const job = store.create(randomUUID(), payloadSize, Date.now());
      run(job, encoding, startedAt).catch((error: unknown) => fail(job, error));
      return { ...job };
    },
    get: (id: string) => store.get(id),
    byRoot: (root: string) => store.byRoot(root),
    /** Resolves with the job once it is confirmed or failed, or with its current state after `timeoutMs`. */
    waitFor(id: string, timeoutMs: number): Promise<DispersalJob | undefined> {
      const current = store.get(id);
      if (!current || current.status === 'confirmed' || current.status === 'failed') return Promise.resolve(current);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.get(id)?.delete(wake);
          resolve(store.get(id));
        }, timeoutMs);
        const wake = (job: DispersalJob) => {
          clearTimeout(timer);
          resolve(job);
        };
        const set = waiters.get(id) ?? new Set();
        set.add(wake);
        waiters.set(id, set);
      });
    },
    /**
     * After a restart: a job that stopped before its quorum lost its payload and fails; one that
     * had its certificate goes on to the chain.
     */
    resume(): void {
      for (const { job, certificate } of store.unfinished()) {
        if (!certificate) {
          fail(job, new JobFailure('DA_AGGREGATOR_RESTARTED', 'the aggregator stopped before the payload was dispersed; submit it again'));
          continue;
        }
        submitCertificate(certificate)
          .then(({ txHash, gasUsed }) => publish(Object.assign(job, { status: 'confirmed' as const, txHash, gasUsed: gasUsed.toString() })))
          .catch((error: unknown) => fail(job, error));
      }
    },
    stop(): void {
      stopping = true;
      for (const [id, set] of waiters) {
        const job = store.get(id);
        if (job) for (const wake of set) wake(job);
      }
      waiters.clear();
    },
  };
}

export type AggregatorService = ReturnType<typeof createAggregatorService>;

function describeFailures(failures: readonly NodeFailure[]): string[] {
  return failures.map((f) => `#${f.index} ${f.url}: ${f.code} ${f.message}`);
}

/** A revert becomes a failure named after the contract's custom error. */
function certificateError(error: unknown): unknown {
  if (error instanceof LevityError) return error;
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName ?? 'unknown';
      const code = name === 'WrongEpoch' ? 'DA_WRONG_EPOCH' : 'DA_CERTIFICATE_REJECTED';
      return new JobFailure(code, `the DA contract rejected the certificate: ${name}`, { meta: { revert: name } });
    }
  }
  return new JobFailure('DA_CHAIN_FAILED', `submitting the certificate failed: ${errorMessage(error)}`, { cause: error });
}

