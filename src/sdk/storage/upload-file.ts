import { open } from 'node:fs/promises';
import type { Hex } from 'viem';
import { LevityError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { loadKeccak, segmentCount, segmentDataLength, segmentProver, SEGMENT_SIZE } from '../../protocol/storage/index.ts';
import type { FileTree, Keccak } from '../../protocol/storage/index.ts';
import { jsonRpcClient } from '../../storage/client.ts';
import type { JsonRpcClient } from '../../storage/client.ts';
import { hashFile } from './hash-file.ts';
import { assertPositiveInteger, forEachLimited, requestTimeout, sleep, StorageClientErrorCode, waitFor } from './node-rpc.ts';
import type { SegmentWithProof, ShardedNode, StorageFileInfo, ZgsStatus } from './node-rpc.ts';
import { chainClient, findSubmitTx, submitFile } from './submit-file.ts';

export type UploadPhase = 'hash' | 'submit' | 'upload' | 'finalize';
export type UploadProgress = { phase: UploadPhase; done: number; total: number };

export type UploadFileParameters = {
  path: string;
  /** Indexer JSON-RPC URL; storage nodes are chosen from its `trusted` list. */
  indexer: string;
  /** EVM JSON-RPC URL of the chain that holds the Flow contract. */
  rpc: string;
  privateKey: Hex;
  /** Nodes that must each hold the whole file (default 1). */
  replicas?: number;
  /** Upload requests in flight per node, each carrying up to 4 segments (default 4). */
  concurrency?: number;
  /** Limit on each wait: receipt, nodes seeing the tx, finality (default 120 s). */
  timeoutMs?: number;
  onProgress?: (progress: UploadProgress) => void;
};

export type UploadFileReturnType = {
  root: Hex;
  /** The submit tx; for a file already stored, the tx that stored it (`0x` if the chain no longer shows it). */
  txHash: Hex;
  txSeq: number;
  size: number;
  nodes: string[];
  /** True when every chosen node already had the file finalized: nothing was paid or sent. */
  alreadyStored: boolean;
};

export const defaultUploadFileOptions = { replicas: 1, concurrency: 4, timeoutMs: 120_000 } as const;

/** Node errors that mean "slow down and try again" (spec storage.md §2.2). */
const RETRYABLE = /too many data writing|STORAGE_NODE_UNREACHABLE|cannot reach/;
const RETRIES = 4;
/** 1 MiB of data per request: measured ~15 % faster than one segment per request, less overhead per byte. */
const SEGMENTS_PER_REQUEST = 4;

/**
 * Uploads a file to `replicas` storage nodes and returns once every one of them reports it
 * finalized. The file is streamed twice (hash, then segments) and never held whole; every wait
 * is bounded; every error after hashing carries the root, and the tx hash once there is one.
 * Re-uploading a stored file costs nothing: nodes that have it are skipped, and a tx already on
 * chain for the same root and size is reused instead of paying again.
 */
export async function uploadFile(parameters: UploadFileParameters): Promise<UploadFileReturnType> {
  const replicas = parameters.replicas ?? defaultUploadFileOptions.replicas;
  const concurrency = parameters.concurrency ?? defaultUploadFileOptions.concurrency;
  const timeoutMs = parameters.timeoutMs ?? defaultUploadFileOptions.timeoutMs;
  assertPositiveInteger('replicas', replicas);
  assertPositiveInteger('concurrency', concurrency);
  assertPositiveInteger('timeoutMs', timeoutMs);
  const progress = parameters.onProgress ?? (() => undefined);
  const keccak = await loadKeccak();

  const tree = await hashFile({ path: parameters.path, keccak, onProgress: (p) => progress({ phase: 'hash', ...p }) });
  const root = tree.rootHex;
  const size = tree.size;
  const meta: { root: Hex; txHash?: Hex; txSeq?: number; size: number } = { root, size };
  const fail = (code: string, message: string, extra: Record<string, unknown> = {}, cause?: unknown) =>
    new UpstreamError(code, message, { meta: { ...meta, ...extra }, cause, details: cause === undefined ? undefined : errorMessage(cause) });

  // Nodes that already hold this exact file (same root and size) come first, so a re-upload
  // lands where the file is and costs nothing; then nodes that know its tx; then the fastest.
  const candidates = await listNodes(parameters.indexer, replicas, timeoutMs, meta);
  const clients = new Map(candidates.map((url) => [url, jsonRpcClient(url, { timeoutMs: requestTimeout(timeoutMs) })]));
  const rpc = (url: string): JsonRpcClient => clients.get(url)!;
  const looked = await Promise.all(
    candidates.map(async (url) => ({ url, info: await rpc(url).call<StorageFileInfo | null>('zgs_getFileInfo', [root, true]).catch(() => null) })),
  );
  const same = (info: StorageFileInfo | null): info is StorageFileInfo => info !== null && info.tx.size === size;
  const rank = ({ info }: { info: StorageFileInfo | null }) => (same(info) ? (info.finalized ? 0 : 1) : 2);
  const chosen = looked.map((node, order) => ({ ...node, order })).sort((a, b) => rank(a) - rank(b) || a.order - b.order).slice(0, replicas);
  const nodes = chosen.map((node) => node.url);
  const pending = chosen.filter((node) => rank(node) !== 0).map((node) => node.url);
  const known = chosen.map((node) => node.info).find(same);

  // The node names the Flow it follows, so the client needs no contract address of its own.
  const status = await rpc(nodes[0]!)
    .call<ZgsStatus>('zgs_getStatus')
    .catch((error: unknown) => {
      throw fail(StorageClientErrorCode.uploadFailed, `cannot read the status of storage node ${nodes[0]}`, { node: nodes[0] }, error);
    });
  const flow = status.networkIdentity.flowAddress;
  const chain = chainClient(parameters.rpc);

  progress({ phase: 'submit', done: 0, total: 1 });
  if (known) {
    meta.txSeq = known.tx.seq;
    meta.txHash = (await findSubmitTx(chain, flow, tree.submission, known.tx.seq)) ?? '0x';
  } else {
    try {
      const sent = await submitFile({
        chain,
        flow,
        privateKey: parameters.privateKey,
        submission: tree.submission,
        timeoutMs,
        onSent: (txHash) => (meta.txHash = txHash),
      });
      if (sent.reverted) throw fail(StorageClientErrorCode.submitFailed, `the Flow submit tx ${sent.txHash} reverted`);
      meta.txSeq = sent.txSeq;
    } catch (error) {
      if (error instanceof LevityError) throw error;
      const timedOut = /timed? ?out/i.test(errorMessage(error));
      const code = timedOut ? StorageClientErrorCode.uploadTimeout : StorageClientErrorCode.submitFailed;
      throw fail(code, `submitting ${root} to the Flow contract ${flow} failed`, {}, error);
    }
  }
  const txSeq = meta.txSeq;
  const done = (alreadyStored: boolean): UploadFileReturnType => ({ root, txHash: meta.txHash ?? '0x', txSeq, size, nodes, alreadyStored });
  if (pending.length === 0) {
    progress({ phase: 'submit', done: 1, total: 1 });
    progress({ phase: 'finalize', done: nodes.length, total: nodes.length });
    return done(true);
  }

  // Nodes learn of a file only from the chain's Submit log, a little after the receipt.
  const seesTx = async (url: string) => (await rpc(url).call<StorageFileInfo | null>('zgs_getFileInfoByTxSeq', [txSeq])) !== null;
  await waitFor(async () => (await Promise.all(pending.map(seesTx))).every(Boolean), {
    timeoutMs,
    onTimeout: (last) => fail(StorageClientErrorCode.uploadTimeout, `storage nodes did not see tx seq ${txSeq} within ${timeoutMs} ms`, { nodes: pending }, last),
  });
  progress({ phase: 'submit', done: 1, total: 1 });

  await sendSegments({ path: parameters.path, tree, txSeq, nodes: pending, rpc, concurrency, keccak, progress, fail });

  let finalized = 0;
  const isFinal = async (url: string) => (await rpc(url).call<StorageFileInfo | null>('zgs_getFileInfoByTxSeq', [txSeq]))?.finalized === true;
  await waitFor(
    async () => {
      const states = await Promise.all(pending.map(isFinal));
      finalized = states.filter(Boolean).length;
      progress({ phase: 'finalize', done: nodes.length - pending.length + finalized, total: nodes.length });
      return finalized === pending.length;
    },
    {
      timeoutMs,
      onTimeout: (last) =>
        fail(StorageClientErrorCode.uploadTimeout, `${pending.length - finalized} of ${pending.length} nodes did not finalize ${root} within ${timeoutMs} ms`, { nodes: pending }, last),
    },
  );
  return done(false);
}

/** The indexer's trusted unsharded nodes, fastest first; at least `replicas` of them. */
async function listNodes(indexer: string, replicas: number, timeoutMs: number, meta: Record<string, unknown>): Promise<string[]> {
  let listed: { trusted?: ShardedNode[] | null };
  try {
    listed = await jsonRpcClient(indexer, { timeoutMs: requestTimeout(timeoutMs) }).call('indexer_getShardedNodes');
  } catch (cause) {
    throw new UpstreamError(StorageClientErrorCode.notEnoughNodes, `cannot list storage nodes at indexer ${indexer}`, { cause, meta, details: errorMessage(cause) });
  }
  // Each replica must hold every segment; sharded nodes would need a covering, which this client does not build.
  const whole = (listed.trusted ?? []).filter((node) => node.config.numShard < 2).sort((a, b) => a.latency - b.latency);
  if (whole.length < replicas) {
    throw new UpstreamError(StorageClientErrorCode.notEnoughNodes, `${replicas} replicas requested, but indexer ${indexer} lists ${whole.length} trusted unsharded storage nodes`, { meta });
  }
  return whole.map((node) => node.url);
}

type SendSegmentsParameters = {
  path: string;
  tree: FileTree;
  txSeq: number;
  nodes: string[];
  rpc: (url: string) => JsonRpcClient;
  concurrency: number;
  keccak: Keccak;
  progress: (progress: UploadProgress) => void;
  fail: (code: string, message: string, extra?: Record<string, unknown>, cause?: unknown) => LevityError;
};

/**
 * Pass 2: each lane reads a few consecutive segments at their offset, encodes them once and sends
 * them as one request to every node, so `concurrency` lanes keep at most that many requests in
 * flight per node and at most `concurrency × SEGMENTS_PER_REQUEST` segments in memory.
 */
async function sendSegments(p: SendSegmentsParameters): Promise<void> {
  const { tree, nodes } = p;
  const count = segmentCount(tree.size);
  const prove = segmentProver(p.keccak, tree.segmentRoots);
  const total = tree.size * nodes.length;
  let sent = 0;
  p.progress({ phase: 'upload', done: 0, total });
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
        const { bytesRead } = await handle.read(data, 0, want, offset);
        if (bytesRead !== want) throw p.fail(StorageClientErrorCode.uploadFailed, `${p.path} changed while it was uploaded`);
        segments.push({ root: tree.rootHex, data: data.toString('base64'), index, proof: prove(index), fileSize: tree.size });
        bytes += want;
      }
      await Promise.all(nodes.map((url) => sendOne(p, url, segments)));
      sent += nodes.length * bytes;
      p.progress({ phase: 'upload', done: sent, total });
    });
  } finally {
    await handle.close();
  }
}

async function sendOne(p: SendSegmentsParameters, url: string, segments: SegmentWithProof[]): Promise<void> {
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
