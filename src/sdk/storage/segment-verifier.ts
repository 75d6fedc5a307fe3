/**
 * Where downloaded segments are decoded and checked against the root: inline on the calling
 * thread, or spread over worker threads when the machine has cores to spare. Both answer the
 * same question the same way (verifySegment); workers only change which core does the hashing.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Hex } from 'viem';
import { loadKeccak, loadSegmentHasher, verifySegment, zeroTable } from '../../protocol/storage/index.ts';
import type { SegmentProof } from '../../protocol/storage/index.ts';

export type VerifyJob = { id: number; root: Hex; data: string; index: number; proof: SegmentProof; fileSize: number };
export type VerifyResult = { id: number; data: Uint8Array } | { id: number; error: string };

export type SegmentVerifier = {
  /** The decoded bytes of a segment that proves itself against `root`; throws otherwise. */
  verify(job: Omit<VerifyJob, 'id'>): Promise<Uint8Array>;
  close(): Promise<void>;
};

/**
 * Worker threads to use by default: one per spare core, at most 4 (beyond that the main thread's
 * fetching and writing is the limit), none on a machine with one or two cores, where a worker
 * would only compete with the main thread and the local storage node.
 */
export function defaultVerifyThreads(): number {
  return Math.min(4, Math.max(0, availableParallelism() - 2));
}

export async function createSegmentVerifier(threads: number): Promise<SegmentVerifier> {
  return threads > 0 ? workerVerifier(threads) : inlineVerifier();
}

async function inlineVerifier(): Promise<SegmentVerifier> {
  const keccak = await loadKeccak();
  const zero = zeroTable(keccak);
  const { segmentRoot } = await loadSegmentHasher();
  return {
    async verify(job) {
      const data = Buffer.from(job.data, 'base64');
      verifySegment(keccak, { root: job.root, data, index: job.index, proof: job.proof, fileSize: job.fileSize, zero, segmentRoot });
      return data;
    },
    async close() {},
  };
}

function workerVerifier(threads: number): SegmentVerifier {
  const pending = new Map<number, { resolve: (data: Uint8Array) => void; reject: (error: Error) => void }>();
  const load = new Array<number>(threads).fill(0);
  let nextId = 0;
  let broken: Error | undefined;
  const workers = Array.from({ length: threads }, (_, i) => {
    const worker = new Worker(new URL('./verify-worker.ts', import.meta.url));
    worker.on('message', (result: VerifyResult) => {
      load[i]!--;
      const waiting = pending.get(result.id);
      pending.delete(result.id);
      if ('error' in result) waiting?.reject(new Error(result.error));
      else waiting?.resolve(result.data);
    });
    // A crashed worker fails everything in flight rather than hanging the download.
    worker.on('error', (error) => {
      broken = error;
      for (const waiting of pending.values()) waiting.reject(error);
      pending.clear();
    });
    return worker;
  });
  return {
    verify(job) {
      if (broken) return Promise.reject(broken);
      const id = nextId++;
      const least = load.indexOf(Math.min(...load));
      load[least]!++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        workers[least]!.postMessage({ ...job, id } satisfies VerifyJob);
      });
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
