import type { Hex } from 'viem';
import {
  CHUNKS_PER_SEGMENT,
  chunkCount,
  segmentCount,
  verifySegment,
  zeroTable,
} from '../protocol/storage/index.ts';
import type { Keccak, SegmentProof } from '../protocol/storage/index.ts';
import type { SegmentStore } from './fs-segment-store.ts';
import { internalError, invalidParams } from './rpc-errors.ts';
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
};

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

  /** Runs the node's checks on one segment, in 0G's order; returns the tx it belongs to. */
  function checkSegment(segment: SegmentUpload, seq: number | undefined): StoredTx {
    if (segment.data.length === 0 || segment.data.length % 256 !== 0) throw invalidParams('data', 'invalid data length');
    const tx = seq === undefined ? store.byRoot(segment.root)[0] : store.bySeq(seq);
    if (!tx) {
      throw internalError(
        seq === undefined
          ? 'no submission with this root is known yet; submit it to the Flow contract first'
          : `no submission with tx seq ${seq} is known yet`,
      );
    }
    if (tx.root.toLowerCase() !== segment.root.toLowerCase()) throw internalError('data root and tx seq not match');
    if (tx.size !== segment.fileSize) throw internalError('segment file size not matched with tx file size');
    if (tx.finalized) throw invalidParams('root', 'already uploaded and finalized');
    if (!Number.isInteger(segment.index) || segment.index < 0 || segment.index >= segmentCount(tx.size)) {
      throw invalidParams('index', 'index out of bound');
    }
    if (!ownsSegment(tx, shard, segment.index)) {
      throw invalidParams('index', `segment ${segment.index} is not in this node's shard ${shard.shardId}/${shard.numShard}`);
    }
    verifySegment(keccak, { root: tx.root, data: segment.data, index: segment.index, proof: segment.proof, fileSize: tx.size, zero });
    return tx;
  }

  /**
   * Stores a batch after every segment in it passed its checks, so a bad segment stores
   * nothing. Each file's new segments cost one flush and one commit for the whole batch.
   */
  async function uploadBatch(batch: readonly SegmentUpload[], seq: number | undefined): Promise<void> {
    const byTx = new Map<number, { tx: StoredTx; fresh: SegmentUpload[] }>();
    for (const segment of batch) {
      const tx = checkSegment(segment, seq);
      const group = byTx.get(tx.seq) ?? { tx, fresh: [] };
      byTx.set(tx.seq, group);
      const key = `${tx.seq}:${segment.index}`;
      // Skip what is stored, being stored by another request, or repeated in this batch.
      if (!inFlight.has(key) && !store.hasSegment(tx.seq, segment.index)) {
        inFlight.add(key);
        group.fresh.push(segment);
      }
    }
    for (const { tx, fresh } of byTx.values()) {
      try {
        if (fresh.length > 0) {
          await segments.writeMany(tx.seq, fresh);
          store.addSegments(tx.seq, fresh);
        }
      } finally {
        for (const segment of fresh) inFlight.delete(`${tx.seq}:${segment.index}`);
      }
      // Also when nothing was new: a crash may have come between storing and finalizing.
      await finalizeIfComplete(store.bySeq(tx.seq)!);
    }
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
