/**
 * Pass 2 of an upload: the file's segments, with proofs, to every node that still needs them.
 * Levity nodes take binary batches (one request and one flush per 4 MiB, no base64); other nodes
 * take 0G's `zgs_uploadSegmentsByTxSeq`. Either way a few requests per node are in flight, the
 * file is read at each batch's offset, and at most a few batches are in memory.
 */
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { LevityError } from '../../protocol/errors.ts';
import { batchDataLength, encodeBatchHead, segmentCount, segmentDataLength, segmentProver, SEGMENT_SIZE } from '../../protocol/storage/index.ts';
import type { FileTree, Keccak, SegmentProof } from '../../protocol/storage/index.ts';
import type { JsonRpcClient } from '../../storage/client.ts';
import { releaseBatch, takeBatch } from './batch-buffers.ts';
import { batchPlan } from './batch-plan.ts';
import { postSegmentBatch } from './levity-node.ts';
import type { NodeErrorMeta } from './levity-node.ts';
import { forEachLimited, requestTimeout, sleep, StorageClientErrorCode } from './node-rpc.ts';
import type { SegmentWithProof } from './node-rpc.ts';

export type SendProgress = (progress: { done: number; total: number }) => void;

export type SendSegmentsParameters = {
  path: string;
  tree: FileTree;
  txSeq: number;
  nodes: string[];
  concurrency: number;
  keccak: Keccak;
  timeoutMs: number;
  progress: SendProgress;
  fail: (code: string, message: string, extra?: Record<string, unknown>, cause?: unknown) => LevityError;
};

/** Node errors that mean "slow down and try again" (spec storage.md §2.2). */
const RETRYABLE = /too many data writing|STORAGE_NODE_UNREACHABLE|cannot reach/;
const RETRIES = 4;
/** JSON-RPC: 1 MiB of data per request, measured ~15 % faster than one segment per request. */
const SEGMENTS_PER_REQUEST = 4;
/** Binary: 4 MiB per request (less at either end: batch-plan.ts); a node hashes each batch on one of its cores, so a few in flight keep them all busy. */
export const SEGMENTS_PER_BATCH = 16;

/** Reads `length` bytes at `position` into `target`, failing if the file got shorter. */
async function readExactly(handle: FileHandle, target: Uint8Array, position: number, p: SendSegmentsParameters): Promise<void> {
  let read = 0;
  while (read < target.length) {
    const { bytesRead } = await handle.read(target, read, target.length - read, position + read);
    if (bytesRead === 0) throw p.fail(StorageClientErrorCode.uploadFailed, `${p.path} changed while it was uploaded`);
    read += bytesRead;
  }
}

/**
 * Binary batches to Levity nodes. Resolves with the nodes that said the file is finalized (the
 * batch that completes it answers so), which need no polling afterwards.
 */
export async function sendBatches(p: SendSegmentsParameters): Promise<Set<string>> {
  const { tree } = p;
  const count = segmentCount(tree.size);
  const prove = segmentProver(p.keccak, tree.segmentRoots);
  const total = tree.size * p.nodes.length;
  const finalized = new Set<string>();
  let sent = 0;
  p.progress({ done: 0, total });
  const handle = await open(p.path, 'r');
  try {
    const plan = batchPlan(count, SEGMENTS_PER_BATCH);
    await forEachLimited(plan.length, p.concurrency, async (b) => {
      const { first, count: n } = plan[b]!;
      const proofs: SegmentProof[] = [];
      for (let k = 0; k < n; k++) proofs.push(prove(first + k));
      const head = encodeBatchHead({ root: tree.rootHex, fileSize: tree.size, first, proofs });
      const length = head.length + batchDataLength(tree.size, first, n);
      // Pooled, reused batch after batch: a fresh 4 MiB allocation per batch makes V8 collect
      // garbage far more often than the hashing and sending cost.
      const body = takeBatch(length);
      try {
        body.set(head, 0);
        const bytes = Math.min(n * SEGMENT_SIZE, tree.size - first * SEGMENT_SIZE);
        await readExactly(handle, body.subarray(head.length, head.length + bytes), first * SEGMENT_SIZE, p);
        // The last chunk's padding past the file's end is zero, whatever the buffer held before.
        body.fill(0, head.length + bytes);
        const targets = p.nodes.filter((url) => !finalized.has(url));
        await Promise.all(targets.map((url) => sendBatch(p, url, body, first, n, finalized)));
        sent += p.nodes.length * bytes;
        p.progress({ done: sent, total });
      } finally {
        releaseBatch(body);
      }
    });
  } finally {
    await handle.close();
  }
  return finalized;
}

async function sendBatch(p: SendSegmentsParameters, url: string, body: Uint8Array, first: number, n: number, finalized: Set<string>): Promise<void> {
  const deadline = Date.now() + p.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await postSegmentBatch(url, p.txSeq, body, requestTimeout(p.timeoutMs));
      if (answer.finalized) finalized.add(url);
      return;
    } catch (error) {
      const meta = (error as LevityError).meta as Partial<NodeErrorMeta> | undefined;
      // Another lane (or an earlier run) completed the file: nothing left to send here.
      if (meta?.status === 409) {
        finalized.add(url);
        return;
      }
      // The node has not read the Submit log yet; it reads the chain when asked, so this is brief.
      const notSeen = meta?.status === 404 && Date.now() < deadline;
      const transient = (meta?.status === undefined || meta.status >= 500) && attempt < RETRIES;
      if (notSeen || transient) {
        await sleep(notSeen ? 100 : 250 * 2 ** attempt);
        continue;
      }
      const indexes = `${first}..${first + n - 1}`;
      throw p.fail(StorageClientErrorCode.uploadFailed, `uploading segments ${indexes} of ${p.tree.rootHex} to ${url} failed`, { node: url, segments: indexes }, error);
    }
  }
}

/**
 * JSON-RPC to 0G-style nodes: each lane reads a few consecutive segments, encodes them once and
 * sends them as one request to every node, so `concurrency` lanes keep at most that many
 * requests in flight per node and at most `concurrency × SEGMENTS_PER_REQUEST` segments in memory.
 */
export async function sendSegmentsRpc(p: SendSegmentsParameters & { rpc: (url: string) => JsonRpcClient }): Promise<void> {
  const { tree, nodes } = p;
  const count = segmentCount(tree.size);
  const prove = segmentProver(p.keccak, tree.segmentRoots);
  const total = tree.size * nodes.length;
  let sent = 0;
  p.progress({ done: 0, total });
  const handle = await open(p.path, 'r');
  try {
    await forEachLimited(Math.ceil(count / SEGMENTS_PER_REQUEST), p.concurrency, async (batch) => {
      const first = batch * SEGMENTS_PER_REQUEST;
      const segments: SegmentWithProof[] = [];
      let bytes = 0;
      for (let index = first; index < Math.min(count, first + SEGMENTS_PER_REQUEST); index++) {
        const offset = index * SEGMENT_SIZE;
        // Zero-filled, so the last segment's tail up to its 256-byte chunk boundary is padding.
        const data = Buffer.alloc(segmentDataLength(tree.size, index));
        const want = Math.min(data.length, tree.size - offset);
        await readExactly(handle, data.subarray(0, want), offset, p);
        segments.push({ root: tree.rootHex, data: data.toString('base64'), index, proof: prove(index), fileSize: tree.size });
        bytes += want;
      }
      await Promise.all(nodes.map((url) => sendOne(p, url, segments)));
      sent += nodes.length * bytes;
      p.progress({ done: sent, total });
    });
  } finally {
    await handle.close();
  }
}

async function sendOne(p: SendSegmentsParameters & { rpc: (url: string) => JsonRpcClient }, url: string, segments: SegmentWithProof[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await p.rpc(url).call('zgs_uploadSegmentsByTxSeq', [segments, p.txSeq]);
      return;
    } catch (error) {
      const message = error instanceof Error ? `${error.message} ${(error as LevityError).code ?? ''}` : String(error);
      // Another lane (or an earlier run) completed the file: nothing left to send here.
      if (message.includes('already uploaded and finalized')) return;
      if (attempt < RETRIES && RETRYABLE.test(message)) {
        await sleep(250 * 2 ** attempt);
        continue;
      }
      const indexes = `${segments[0]!.index}..${segments[segments.length - 1]!.index}`;
      throw p.fail(StorageClientErrorCode.uploadFailed, `uploading segments ${indexes} of ${p.tree.rootHex} to ${url} failed`, { node: url, segments: indexes }, error);
    }
  }
}
