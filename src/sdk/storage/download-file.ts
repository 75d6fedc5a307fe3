import { constants } from 'node:fs';
import { access, link, open, rename, unlink } from 'node:fs/promises';
import type { Hex } from 'viem';
import { ConflictError, NotFoundError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import {
  loadKeccak,
  loadSegmentHasher,
  nodeBytes,
  paddedSegmentCount,
  segmentChunkCount,
  segmentCount,
  segmentRoot,
  SEGMENT_SIZE,
  toHex,
  treeRoot,
} from '../../protocol/storage/index.ts';
import { jsonRpcClient } from '../../storage/client.ts';
import type { JsonRpcClient } from '../../storage/client.ts';
import { downloadBatches } from './download-batches.ts';
import { isLevityNode } from './levity-node.ts';
import { assertPositiveInteger, assertRoot, forEachLimited, requestTimeout, StorageClientErrorCode } from './node-rpc.ts';
import type { SegmentWithProof, ShardedNode, StorageFileInfo } from './node-rpc.ts';
import { createSegmentVerifier, defaultVerifyThreads } from './segment-verifier.ts';
import type { SegmentVerifier } from './segment-verifier.ts';
import { defaultStorageThreads, storagePool } from './storage-pool.ts';

export type DownloadFileParameters = {
  root: Hex;
  /** Where the file goes; it must not exist. Bytes land in `out.partial` until verified. */
  out: string;
  indexer: string;
  /** Limit on each request to a node or the indexer (default 120 s, capped at 30 s per request). */
  timeoutMs?: number;
  /**
   * Requests in flight, spread over the nodes that hold the file (default 8): 4 MiB batches from
   * Levity nodes, single segments over JSON-RPC.
   */
  concurrency?: number;
  /**
   * Worker threads that verify segments; 0 verifies on this thread. Default, for files ≥ 8 MiB:
   * one per core (at most 4) from Levity nodes; over JSON-RPC, whose decoding keeps this thread
   * busy, only spare cores.
   */
  verifyThreads?: number;
  /** Ask nodes for Levity's binary batches where they serve them (default true); false uses JSON-RPC only. */
  binary?: boolean;
  onProgress?: (progress: { done: number; total: number }) => void;
};

export type DownloadFileReturnType = { root: Hex; size: number; txSeq: number; out: string; nodes: string[] };

export const defaultDownloadFileOptions = { timeoutMs: 120_000, concurrency: 8 } as const;

const WORKERS_FROM_BYTES = 8 * 1024 * 1024;
/** How long a node gets to say whether it serves Levity's binary routes. */
const PROBE_MS = 2_000;

type Source = { url: string; rpc: JsonRpcClient; seq: number };

/**
 * Downloads a file by root and proves every byte before it is written: each segment is checked
 * against the requested root with its Merkle proof (as 0G's Go client does; the TS SDK checks
 * nothing), from any node that holds the file, falling back to the next node when one answers
 * null, errs or sends bytes that do not verify. Fetches are pipelined and spread across nodes;
 * Levity nodes serve binary batches (verified on worker threads while the next are in flight),
 * other nodes 0G's JSON-RPC, one segment per call.
 */
export async function downloadFile(parameters: DownloadFileParameters): Promise<DownloadFileReturnType> {
  const { root, out } = parameters;
  assertRoot(root);
  const timeoutMs = parameters.timeoutMs ?? defaultDownloadFileOptions.timeoutMs;
  const concurrency = parameters.concurrency ?? defaultDownloadFileOptions.concurrency;
  assertPositiveInteger('timeoutMs', timeoutMs);
  assertPositiveInteger('concurrency', concurrency);
  if (await exists(out)) throw new ConflictError(StorageClientErrorCode.outputExists, `${out} already exists; refusing to overwrite it`, { meta: { root, out } });

  const binary = parameters.binary !== false;
  // Whether a node serves binary batches is asked as soon as the indexer names it, beside its file info.
  const probe = binary ? (url: string) => isLevityNode(url, PROBE_MS) : undefined;
  const { sources, size, probes } = await findSources(parameters.indexer, root, requestTimeout(timeoutMs), probe);
  // Workers are worth starting only when there is real hashing to share. The pool (shared with
  // uploads) starts while the probes finish; it is used only if the nodes serve binary batches.
  const big = size >= WORKERS_FROM_BYTES;
  const poolThreads = parameters.verifyThreads ?? (big ? defaultStorageThreads() : 0);
  const pool = binary && poolThreads > 0 ? storagePool(poolThreads) : undefined;
  pool?.catch(() => undefined);
  const probed = await Promise.all(sources.map(async (source) => ((await probes.get(source.url)) ? source : undefined)));
  const levity = probed.filter((source): source is Source => source !== undefined);
  const keccak = await loadKeccak();
  const threads = parameters.verifyThreads ?? (big ? (levity.length > 0 ? poolThreads : defaultVerifyThreads()) : 0);
  const verifier = await createSegmentVerifier(levity.length > 0 ? 0 : threads);
  const count = segmentCount(size);
  const roots: Uint8Array[] = new Array(count);
  const partial = `${out}.partial`;
  const handle = await open(partial, 'w').catch(async (error: unknown) => {
    await verifier.close();
    throw error;
  });
  let done = 0;
  try {
    if (levity.length > 0) {
      const hasher = await loadSegmentHasher();
      const workers = threads > 0 ? await pool : undefined;
      await downloadBatches({ sources: levity, root, size, handle, path: partial, roots, concurrency, timeoutMs: requestTimeout(timeoutMs), keccak, hasher, pool: workers, onProgress: parameters.onProgress });
    } else {
      parameters.onProgress?.({ done: 0, total: size });
      await forEachLimited(count, concurrency, async (index) => {
        const { data, segmentRootBytes } = await fetchSegment(verifier, sources, root, size, index);
        const length = Math.min(SEGMENT_SIZE, size - index * SEGMENT_SIZE);
        // Positional writes: lanes finish out of order, and each segment has its own place.
        await handle.write(data, 0, length, index * SEGMENT_SIZE);
        roots[index] = segmentRootBytes;
        done += length;
        parameters.onProgress?.({ done, total: size });
      });
    }
    // Every segment proved itself against `root` on its own; rebuilding the root from those
    // segment roots (plus the padding ones) checks the file as a whole without hashing it again.
    for (let index = count; index < paddedSegmentCount(size); index++) {
      roots.push(segmentRoot(keccak, new Uint8Array(0), segmentChunkCount(size, index)));
    }
    const rebuilt = toHex(treeRoot(keccak, roots));
    if (rebuilt.toLowerCase() !== root.toLowerCase()) {
      throw new UpstreamError(StorageClientErrorCode.downloadInvalid, `downloaded segments rebuild root ${rebuilt}, not ${root}`, { meta: { root } });
    }
    await handle.sync();
    await handle.close();
    await publish(partial, out, root);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await unlink(partial).catch(() => undefined);
    throw error;
  } finally {
    await verifier.close();
  }
  return { root, size, txSeq: sources[0]!.seq, out, nodes: sources.map((source) => source.url) };
}

/**
 * Nodes the indexer says hold `root` finalized, each with its own tx seq, agreeing on one size;
 * `probe`, if given, is started on every candidate at once (its answers are in `probes`).
 */
async function findSources(
  indexer: string,
  root: Hex,
  timeoutMs: number,
  probe?: (url: string) => Promise<boolean>,
): Promise<{ sources: Source[]; size: number; probes: Map<string, Promise<boolean>> }> {
  let locations: ShardedNode[];
  try {
    locations = (await jsonRpcClient(indexer, { timeoutMs }).call<ShardedNode[] | null>('indexer_getFileLocations', [root])) ?? [];
  } catch (cause) {
    throw new UpstreamError(StorageClientErrorCode.fileNotFound, `cannot ask indexer ${indexer} where ${root} is`, { cause, meta: { root }, details: errorMessage(cause) });
  }
  // Sharded nodes hold only part of a file; this client reads whole copies.
  const whole = locations.filter((node) => node.config.numShard < 2);
  if (whole.length === 0) throw new NotFoundError(StorageClientErrorCode.fileNotFound, `no storage node holds a finalized copy of ${root}`, { meta: { root, indexer } });
  const probes = new Map(whole.map(({ url }) => [url, probe ? probe(url) : Promise.resolve(false)]));
  const found = await Promise.all(
    whole.map(async ({ url }) => {
      const rpc = jsonRpcClient(url, { timeoutMs });
      const info = await rpc.call<StorageFileInfo | null>('zgs_getFileInfo', [root, true]).catch(() => null);
      return { url, rpc, info };
    }),
  );
  const final = found.filter((node) => node.info?.finalized);
  if (final.length === 0) {
    const code = found.some((node) => node.info) ? StorageClientErrorCode.notFinalized : StorageClientErrorCode.fileNotFound;
    throw new NotFoundError(code, `no storage node has ${root} finalized`, { meta: { root, nodes: whole.map((n) => n.url) } });
  }
  // The root pins the padded bytes, not the length: trailing zeros inside the last chunk could
  // make two sizes share a root. The first node decides; nodes with another size are not used.
  const size = final[0]!.info!.tx.size;
  const sources = final.filter((node) => node.info!.tx.size === size).map((node) => ({ url: node.url, rpc: node.rpc, seq: node.info!.tx.seq }));
  return { sources, size, probes };
}

/** One verified segment, starting at a node picked by index so fetches spread over replicas. */
async function fetchSegment(verifier: SegmentVerifier, sources: Source[], root: Hex, size: number, index: number) {
  const failures: string[] = [];
  let tampered = false;
  for (let attempt = 0; attempt < sources.length; attempt++) {
    const source = sources[(index + attempt) % sources.length]!;
    let segment: SegmentWithProof | null;
    try {
      segment = await source.rpc.call<SegmentWithProof | null>('zgs_downloadSegmentWithProofByTxSeq', [source.seq, index]);
    } catch (error) {
      failures.push(`${source.url}: ${errorMessage(error)}`);
      continue;
    }
    if (!segment) {
      failures.push(`${source.url}: no such segment`);
      continue;
    }
    let data: Uint8Array;
    try {
      data = await verifier.verify({ root, data: segment.data, index, proof: segment.proof, fileSize: size });
    } catch (error) {
      tampered = true;
      failures.push(`${source.url}: ${errorMessage(error)}`);
      continue;
    }
    // verifySegment proved lemma[0] is the root of these bytes.
    return { data, segmentRootBytes: nodeBytes(segment.proof.lemma[0]!)! };
  }
  const code = tampered ? StorageClientErrorCode.downloadInvalid : StorageClientErrorCode.segmentUnavailable;
  const what = tampered ? 'failed verification at every node' : 'is not available from any node';
  throw new UpstreamError(code, `segment ${index} of ${root} ${what}`, { meta: { root, index, failures }, details: failures.join('; ') });
}

/** Moves the verified file into place without ever replacing a file that appeared meanwhile. */
async function publish(partial: string, out: string, root: Hex): Promise<void> {
  try {
    await link(partial, out);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConflictError(StorageClientErrorCode.outputExists, `${out} already exists; refusing to overwrite it`, { meta: { root, out } });
    // Filesystems without hard links: a rename is the best we can do.
    if (await exists(out)) throw new ConflictError(StorageClientErrorCode.outputExists, `${out} already exists; refusing to overwrite it`, { meta: { root, out } });
    await rename(partial, out);
    return;
  }
  await unlink(partial);
}

async function exists(path: string): Promise<boolean> {
  return access(path, constants.F_OK).then(
    () => true,
    () => false,
  );
}
