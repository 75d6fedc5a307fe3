import type { Hex } from 'viem';
import { ConflictError, InvalidInputError, NotFoundError } from '../protocol/errors.ts';
import {
  CHUNKS_PER_SEGMENT,
  SEGMENT_SIZE,
  batchDataLength,
  batchSegment,
  chunkCount,
  decodeSegmentBatch,
  encodeBatchHead,
  keccakSegmentHasher,
  segmentChunkCount,
  segmentCount,
  verifySegment,
  zeroTable,
} from '../protocol/storage/index.ts';
import type { Keccak, SegmentHasher, SegmentProof } from '../protocol/storage/index.ts';
import type { SegmentStore } from './fs-segment-store.ts';
import { internalError, invalidParams } from './rpc-errors.ts';
import type { SegmentRootPool } from '../sdk/storage/segment-root-pool.ts';
import type { StoredTx, TxStore } from './tx-store.ts';

export type ShardConfig = { shardId: number; numShard: number };

/** A segment as clients upload it (`SegmentWithProof`), with data already base64-decoded. */
export type SegmentUpload = { root: Hex; data: Uint8Array; index: number; proof: SegmentProof; fileSize: number };

export type FileInfo = {
  tx: {
    streamIds: string[];
    data: number[];
    dataMerkleRoot: Hex;
    merkleNodes: [number, Hex][];
    startEntryIndex: number;
    size: number;
    seq: number;
  };
  finalized: boolean;
  isCached: boolean;
  uploadedSegNum: number;
  pruned: boolean;
};

export type StorageServiceDeps = {
  store: TxStore;
  segments: SegmentStore;
  keccak: Keccak;
  shard: ShardConfig;
  /** Bulk segment hashing on this thread (JSON-RPC uploads); hash-wasm chunk by chunk without it. */
  hasher?: SegmentHasher;
  /** Segment hashing off the event loop, for binary batches; this thread's hasher without it. */
  rootPool?: SegmentRootPool;
  /** Reads the chain now: a batch for a tx seq not seen yet may have just been mined. */
  syncNow?: () => Promise<unknown>;
};

/** What a binary batch upload answers. */
export type BatchUploadResult = { stored: number; uploadedSegNum: number; finalized: boolean };

/** Global segment positions of a tx that this node keeps (§5.8: g % numShard == shardId). */
export function ownedSegments(tx: Pick<StoredTx, 'size' | 'startEntryIndex'>, shard: ShardConfig): number[] {
  const first = Math.floor(tx.startEntryIndex / CHUNKS_PER_SEGMENT);
  const owned: number[] = [];
  for (let index = 0; index < segmentCount(tx.size); index++) {
    if (shard.numShard < 2 || (first + index) % shard.numShard === shard.shardId) owned.push(index);
  }
  return owned;
}

export function ownsSegment(tx: Pick<StoredTx, 'startEntryIndex'>, shard: ShardConfig, index: number): boolean {
  return shard.numShard < 2 || (Math.floor(tx.startEntryIndex / CHUNKS_PER_SEGMENT) + index) % shard.numShard === shard.shardId;
}

/** How many data segments of a tx this node keeps, without listing them. */
export function ownedSegmentCount(tx: Pick<StoredTx, 'size' | 'startEntryIndex'>, shard: ShardConfig): number {
  const total = segmentCount(tx.size);
  if (shard.numShard < 2) return total;
  const first = Math.floor(tx.startEntryIndex / CHUNKS_PER_SEGMENT);
  // Positions first..first+total-1 that are ≡ shardId (mod numShard).
  const offset = (((shard.shardId - first) % shard.numShard) + shard.numShard) % shard.numShard;
  return offset >= total ? 0 : Math.floor((total - 1 - offset) / shard.numShard) + 1;
}

export function fileInfo(tx: StoredTx): FileInfo {
  return {
    tx: {
      streamIds: [],
      data: [],
      dataMerkleRoot: tx.root,
      merkleNodes: tx.merkleNodes,
      startEntryIndex: tx.startEntryIndex,
      size: tx.size,
      seq: tx.seq,
    },
    finalized: tx.finalized,
    isCached: false,
    uploadedSegNum: tx.uploadedSegments,
    pruned: false,
  };
}

/**
 * The storage node's use-cases: accept verified segments, finalize files, serve them back.
 * Checks run in the order 0G's node runs them, so clients see the same errors.
 */
export function createStorageService(deps: StorageServiceDeps) {
  const { store, segments, keccak, shard } = deps;
  const zero = zeroTable(keccak);
  const hasher = deps.hasher ?? keccakSegmentHasher(keccak);
  // Segments being written right now, so a concurrent duplicate is skipped, not written twice.
  const inFlight = new Set<string>();

  /** Gives every unfinished submission of the same file the bytes of a finished one. */
  async function copyToTwins(source: StoredTx): Promise<void> {
    const owned = ownedSegments(source, shard);
    for (const twin of store.byRoot(source.root)) {
      if (twin.seq === source.seq || twin.finalized || twin.size !== source.size) continue;
      await segments.copy(source.seq, twin.seq);
      for (const index of owned) store.addSegment(twin.seq, index, store.segmentProof(source.seq, index));
      store.finalize(twin.seq);
    }
  }

  async function finalizeIfComplete(tx: StoredTx): Promise<void> {
    // Only owned segments are ever accepted, so a full count means a complete file; counting
    // (not checking each segment) keeps this O(1) per upload instead of O(segments).
    if (tx.finalized || tx.uploadedSegments < ownedSegmentCount(tx, shard)) return;
    store.finalize(tx.seq);
    await copyToTwins(tx);
  }

  /** The node's checks on one segment before its proof (0G's steps 1–5, in order); returns its tx. */
  function checkSegmentHeader(segment: Omit<SegmentUpload, 'proof'>, tx: StoredTx | undefined, seq: number | undefined): StoredTx {
    if (segment.data.length === 0 || segment.data.length % 256 !== 0) throw invalidParams('data', 'invalid data length');
    if (!tx) {
      throw internalError(
        seq === undefined
          ? 'no submission with this root is known yet; submit it to the Flow contract first'
          : `no submission with tx seq ${seq} is known yet`,
        NotFoundError,
        'STORAGE_TX_UNKNOWN',
      );
    }
    if (tx.root.toLowerCase() !== segment.root.toLowerCase()) throw internalError('data root and tx seq not match', InvalidInputError);
    if (tx.size !== segment.fileSize) throw internalError('segment file size not matched with tx file size', InvalidInputError);
    if (tx.finalized) throw invalidParams('root', 'already uploaded and finalized', ConflictError);
    if (!Number.isInteger(segment.index) || segment.index < 0 || segment.index >= segmentCount(tx.size)) {
      throw invalidParams('index', 'index out of bound');
    }
    if (!ownsSegment(tx, shard, segment.index)) {
      throw invalidParams('index', `segment ${segment.index} is not in this node's shard ${shard.shardId}/${shard.numShard}`);
    }
    return tx;
  }

  /** Runs the node's checks on one segment, in 0G's order; returns the tx it belongs to. */
  function checkSegment(segment: SegmentUpload, seq: number | undefined): StoredTx {
    const tx = checkSegmentHeader(segment, seq === undefined ? store.byRoot(segment.root)[0] : store.bySeq(seq), seq);
    verifySegment(keccak, { root: tx.root, data: segment.data, index: segment.index, proof: segment.proof, fileSize: tx.size, zero, segmentRoot: hasher.segmentRoot });
    return tx;
  }

  // Group commit: requests whose bytes are written wait here; one flush per file and one SQLite
  // commit then cover every request that joined, and all of them are answered after both.
  type Waiting = { seq: number; entries: readonly SegmentUpload[]; resolve: () => void; reject: (error: unknown) => void };
  let waiting: Waiting[] = [];
  let flushing = false;
  // Binary batches' writes under way: a flush about to start waits for them, so that they join
  // it rather than the next one. Each flush costs the device a cache flush (and the SQLite
  // commit after it an fsync on this thread) whatever its size: with a client's batches arriving
  // one after another, groups of one or two made the flushes back to back; fuller ones carry
  // more per flush. (0G's JSON-RPC uploads keep their timing: one segment each, they gain little.)
  const writing = new Set<Promise<void>>();

  const commit = (seq: number, entries: readonly SegmentUpload[]): Promise<void> =>
    new Promise((resolve, reject) => {
      waiting.push({ seq, entries, resolve, reject });
      if (!flushing) void flushAll();
    });

  async function flushAll(): Promise<void> {
    flushing = true;
    while (waiting.length > 0) {
      if (writing.size > 0) {
        // Only the writes already started: later ones cannot hold this flush back for long.
        await Promise.allSettled([...writing]);
        // Their requests join `waiting` in the continuations of those writes.
        await new Promise((resolve) => setImmediate(resolve));
      }
      const group = waiting;
      waiting = [];
      try {
        // Each request's write finished before it joined, so a flush started now covers it.
        await Promise.all([...new Set(group.map((w) => w.seq))].map((seq) => segments.flush(seq)));
        store.addSegmentGroups(group.map(({ seq, entries }) => ({ seq, entries })));
        for (const w of group) w.resolve();
      } catch (error) {
        for (const w of group) w.reject(error);
      }
    }
    flushing = false;
  }

  /** Stores segments that passed every check: bytes durable first, then their record, then maybe finality. */
  async function storeChecked(tx: StoredTx, segmentsOfTx: readonly SegmentUpload[], gather = false): Promise<number> {
    const fresh: SegmentUpload[] = [];
    for (const segment of segmentsOfTx) {
      const key = `${tx.seq}:${segment.index}`;
      // Skip what is stored, being stored by another request, or repeated in this batch.
      if (!inFlight.has(key) && !store.hasSegment(tx.seq, segment.index)) {
        inFlight.add(key);
        fresh.push(segment);
      }
    }
    try {
      if (fresh.length > 0) {
        const written = segments.writeMany(tx.seq, fresh, { sync: false });
        if (gather) writing.add(written);
        try {
          await written;
        } finally {
          writing.delete(written);
        }
        await commit(tx.seq, fresh);
      }
    } finally {
      for (const segment of fresh) inFlight.delete(`${tx.seq}:${segment.index}`);
    }
    // Also when nothing was new: a crash may have come between storing and finalizing.
    await finalizeIfComplete(store.bySeq(tx.seq)!);
    return fresh.length;
  }

  /** The tx for a batch; a seq this node has not seen yet may be in a block just mined, so look once. */
  async function txForBatch(seq: number): Promise<StoredTx | undefined> {
    const known = store.bySeq(seq);
    if (known || !deps.syncNow || seq < store.nextSeq()) return known;
    await deps.syncNow().catch(() => undefined);
    return store.bySeq(seq);
  }

  /**
   * A binary batch (segment-batch.ts): the same checks as JSON-RPC, segment by segment in 0G's
   * order, with the segment roots computed up front (in parallel, off the event loop) and
   * handed to verifySegment. All or nothing: a bad segment stores none of the batch. The body
   * is not kept: once this resolves the caller may reuse it.
   */
  async function uploadSegmentBatch(seq: number, body: Uint8Array): Promise<BatchUploadResult> {
    const batch = decodeSegmentBatch(body);
    const tx = await txForBatch(seq);
    const segmentAt = (k: number): SegmentUpload => ({ root: batch.root, data: batchSegment(batch, k), index: batch.first + k, proof: batch.proofs[k]!, fileSize: batch.fileSize });
    // The first segment whose early checks fail; those before it are checked in full first.
    let failedAt = batch.count;
    let failure: unknown;
    for (let k = 0; k < batch.count && failedAt === batch.count; k++) {
      try {
        checkSegmentHeader(segmentAt(k), tx, seq);
      } catch (error) {
        failedAt = k;
        failure = error;
      }
    }
    const dataStart = batch.data.byteOffset - body.byteOffset;
    const wanted = Array.from({ length: failedAt }, (_, k) => ({
      offset: dataStart + k * SEGMENT_SIZE,
      length: batchSegment(batch, k).length,
      paddedChunks: segmentChunkCount(batch.fileSize, batch.first + k),
    }));
    let roots: Uint8Array[] = [];
    if (wanted.length > 0) {
      roots = deps.rootPool
        ? await deps.rootPool.roots(body, wanted)
        : wanted.map((w) => hasher.segmentRoot(body.subarray(w.offset, w.offset + w.length), w.paddedChunks));
    }
    const checked: SegmentUpload[] = [];
    for (let k = 0; k < failedAt; k++) {
      const segment = segmentAt(k);
      // The precomputed root stands in only for exactly the bytes and padding it was computed for.
      const segmentRoot = (data: Uint8Array, chunks: number) =>
        data === segment.data && chunks === wanted[k]!.paddedChunks ? roots[k]! : hasher.segmentRoot(data, chunks);
      verifySegment(keccak, { root: tx!.root, data: segment.data, index: segment.index, proof: segment.proof, fileSize: tx!.size, zero, segmentRoot });
      checked.push(segment);
    }
    if (failedAt < batch.count) throw failure;
    const stored = await storeChecked(tx!, checked, true);
    const after = store.bySeq(tx!.seq)!;
    return { stored, uploadedSegNum: after.uploadedSegments, finalized: after.finalized };
  }

  /**
   * Segments first … first+count-1 of a tx with their proofs, as a binary batch in a buffer from
   * `allocate` (which need not be zeroed); NotFoundError unless all of them are here.
   */
  async function downloadSegmentBatch(seq: number, first: number, count: number, allocate: (length: number) => Uint8Array = (n) => new Uint8Array(n)): Promise<Uint8Array> {
    const tx = store.bySeq(seq);
    if (!tx) throw new NotFoundError('STORAGE_TX_UNKNOWN', `no submission with tx seq ${seq} is known here`, { meta: { seq } });
    const segmentsInFile = segmentCount(tx.size);
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || first < 0 || count < 1 || first + count > segmentsInFile) {
      throw new InvalidInputError('STORAGE_INDEX_OUT_OF_BOUND', 'index out of bound', { details: `segments ${first}..${first + count - 1} of ${segmentsInFile}`, meta: { seq, first, count } });
    }
    const proofs = store.segmentProofs(seq, first, count);
    if (!proofs) throw new NotFoundError('STORAGE_SEGMENT_MISSING', `segments ${first}..${first + count - 1} of tx ${seq} are not all stored here`, { meta: { seq, first, count } });
    const head = encodeBatchHead({ root: tx.root, fileSize: tx.size, first, proofs });
    const body = allocate(head.length + batchDataLength(tx.size, first, count));
    body.set(head, 0);
    await segments.readRun(seq, tx.size, first, count, body.subarray(head.length));
    return body;
  }

  /**
   * Stores a batch after every segment in it passed its checks, so a bad segment stores
   * nothing. Each file's new segments cost one flush and one commit for the whole batch.
   */
  async function uploadBatch(batch: readonly SegmentUpload[], seq: number | undefined): Promise<void> {
    const byTx = new Map<number, { tx: StoredTx; checked: SegmentUpload[] }>();
    for (const segment of batch) {
      const tx = checkSegment(segment, seq);
      const group = byTx.get(tx.seq) ?? { tx, checked: [] };
      byTx.set(tx.seq, group);
      group.checked.push(segment);
    }
    for (const { tx, checked } of byTx.values()) await storeChecked(tx, checked);
  }


  /**
   * A newly synced submission: final at once when this node owns none of it (§5.9), or when
   * the same file is already stored here under an earlier submission.
   */
  async function adoptTx(tx: StoredTx): Promise<void> {
    const source = store.byRoot(tx.root).find((other) => other.finalized && other.size === tx.size);
    if (source) await copyToTwins(source);
    else await finalizeIfComplete(tx);
  }

  function findTx(ref: { seq: number } | { root: Hex }): StoredTx | undefined {
    return 'seq' in ref ? store.bySeq(ref.seq) : store.byRoot(ref.root)[0];
  }

  return {
    shard,
    adoptTx,

    fileInfo(ref: { seq: number } | { root: Hex }): FileInfo | null {
      const tx = findTx(ref);
      return tx ? fileInfo(tx) : null;
    },

    async upload(batch: readonly SegmentUpload[], seq?: number): Promise<null> {
      await uploadBatch(batch, seq);
      return null;
    },

    uploadSegmentBatch,
    downloadSegmentBatch,

    /** Chunks [start, end) of a file, base64, or null when this node lacks them. */
    async download(ref: { seq: number } | { root: Hex }, start: number, end: number): Promise<string | null> {
      const tx = findTx(ref);
      if (!tx) return null;
      if (!(Number.isInteger(start) && Number.isInteger(end)) || start < 0 || start >= end) {
        throw invalidParams('start_index', 'invalid chunk index');
      }
      if (end - start > CHUNKS_PER_SEGMENT) throw invalidParams('end_index', 'exceeds maximum chunks 1024');
      if (end > chunkCount(tx.size)) throw invalidParams('end_index', 'end index is out of bound');
      const first = Math.floor(start / CHUNKS_PER_SEGMENT);
      const last = Math.floor((end - 1) / CHUNKS_PER_SEGMENT);
      for (let index = first; index <= last; index++) if (!store.hasSegment(tx.seq, index)) return null;
      return Buffer.from(await segments.readChunks(tx.seq, tx.size, start, end)).toString('base64');
    },

    async downloadWithProof(ref: { seq: number } | { root: Hex }, index: number) {
      const tx = findTx(ref);
      if (!tx || !store.hasSegment(tx.seq, index)) return null;
      const data = await segments.readSegment(tx.seq, tx.size, index);
      return {
        root: tx.root,
        data: Buffer.from(data).toString('base64'),
        index,
        proof: store.segmentProof(tx.seq, index),
        fileSize: tx.size,
      };
    },
  };
}

export type StorageService = ReturnType<typeof createStorageService>;
