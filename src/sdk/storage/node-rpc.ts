/**
 * What the storage actions share: the wire shapes of `zgs_*` and `indexer_*` answers (spec
 * storage.md §3.1–3.2, declared here because sdk/ may not import the server's types), error
 * codes, and the two control-flow helpers every action needs: a bounded wait and a bounded pool.
 */
import type { Hex } from 'viem';
import { InvalidInputError } from '../../protocol/errors.ts';

export type ShardConfig = { shardId: number; numShard: number };

/** A node as the indexer lists it. */
export type ShardedNode = { url: string; config: ShardConfig; latency: number; since: number };

/** `zgs_getFileInfo` / `zgs_getFileInfoByTxSeq`: the fields clients rely on. */
export type StorageFileInfo = {
  tx: { dataMerkleRoot: Hex; startEntryIndex: number; size: number; seq: number };
  finalized: boolean;
  isCached: boolean;
  uploadedSegNum: number;
  pruned: boolean;
};

export type SegmentWithProof = {
  root: Hex;
  /** base64 */
  data: string;
  index: number;
  proof: { lemma: Hex[]; path: boolean[] };
  fileSize: number;
};

export type ZgsStatus = { networkIdentity: { chainId: number; flowAddress: Hex } };

/** Codes of the errors the storage actions throw; each carries root (and txHash once known) in meta. */
export const StorageClientErrorCode = {
  invalidInput: 'STORAGE_INVALID_INPUT',
  emptyFile: 'STORAGE_EMPTY_FILE',
  notEnoughNodes: 'STORAGE_NOT_ENOUGH_NODES',
  submitFailed: 'STORAGE_SUBMIT_FAILED',
  uploadFailed: 'STORAGE_UPLOAD_FAILED',
  uploadTimeout: 'STORAGE_UPLOAD_TIMEOUT',
  fileNotFound: 'STORAGE_FILE_NOT_FOUND',
  notFinalized: 'STORAGE_FILE_NOT_FINALIZED',
  segmentUnavailable: 'STORAGE_SEGMENT_UNAVAILABLE',
  downloadInvalid: 'STORAGE_DOWNLOAD_INVALID',
  outputExists: 'STORAGE_OUTPUT_EXISTS',
} as const;
export type StorageClientErrorCode = (typeof StorageClientErrorCode)[keyof typeof StorageClientErrorCode];

export const ROOT_PATTERN = /^0x[0-9a-fA-F]{64}$/;

/** Longest single request; a wait may be longer, but one stuck socket must not eat all of it. */
export function requestTimeout(timeoutMs: number): number {
  return Math.min(timeoutMs, 30_000);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export type WaitForOptions = { timeoutMs: number; intervalMs?: number; onTimeout: (lastError: unknown) => Error };

/**
 * Polls `check` until it returns true, then resolves; throws `onTimeout(lastError)` once
 * `timeoutMs` has passed. Errors from `check` count as "not yet" (a node restarting mid-wait must
 * not end it), but the last one is handed to `onTimeout` so a timeout can say what went wrong.
 * The interval starts short and grows by half up to 500 ms, so small files finish fast and long
 * waits do not flood the nodes.
 */
export async function waitFor(check: () => Promise<boolean>, options: WaitForOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    const ready = await check().catch((error: unknown) => {
      lastError = error;
      return false;
    });
    if (ready) return;
    if (Date.now() >= deadline) throw options.onTimeout(lastError);
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
    interval = Math.min(interval * 1.5, 500);
  }
}

/**
 * Runs `work(i)` for i in [0, count) with at most `limit` at once, started in index order.
 * The first failure stops new work and is rethrown once the running ones settle.
 */
export async function forEachLimited(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const lane = async () => {
    while (!failed && next < count) {
      const index = next++;
      try {
        await work(index);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, count)) }, lane));
  if (failed) throw failure;
}

export function assertRoot(root: string): asserts root is Hex {
  if (!ROOT_PATTERN.test(root)) {
    throw new InvalidInputError(StorageClientErrorCode.invalidInput, `a root is 0x and 64 hex digits, not "${root}"`);
  }
}

export function assertPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new InvalidInputError(StorageClientErrorCode.invalidInput, `${name} must be a positive integer, got ${value}`);
  }
}
