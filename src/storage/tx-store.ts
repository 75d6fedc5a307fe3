import type { Hex } from 'viem';
import { NotFoundError } from '../protocol/errors.ts';
import type { SegmentProof } from '../protocol/storage/index.ts';
import { inTransaction, openSqlite } from '../shared/sqlite.ts';

/** A file submission as the node learned it from a Flow `Submit` event. */
export type StoredTx = {
  seq: number;
  /** The file's data Merkle root, folded from the submission nodes. */
  root: Hex;
  size: number;
  startEntryIndex: number;
  /** Submission nodes as 0G reports them: [height + 1, root]. */
  merkleNodes: [number, Hex][];
  blockNumber: number;
  finalized: boolean;
  uploadedSegments: number;
};

type Row = {
  seq: number;
  root: string;
  size: number;
  start_entry: number;
  nodes: string;
  block: number;
  finalized: number;
  uploaded: number;
};

/**
 * The node's metadata: known submissions, which segments it holds, and how far it has read
 * the chain. SQLite in WAL mode with synchronous=FULL, so a commit survives kill -9.
 */
export function sqliteTxStore(path: string) {
  const db = openSqlite(path);
  db.exec(`
    CREATE TABLE IF NOT EXISTS txs (
      seq INTEGER PRIMARY KEY, root TEXT NOT NULL, size INTEGER NOT NULL, start_entry INTEGER NOT NULL,
      nodes TEXT NOT NULL, block INTEGER NOT NULL, finalized INTEGER NOT NULL DEFAULT 0, uploaded INTEGER NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS txs_root ON txs (root, seq);
    CREATE TABLE IF NOT EXISTS segments (seq INTEGER NOT NULL, idx INTEGER NOT NULL, proof TEXT NOT NULL, PRIMARY KEY (seq, idx)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const insertTx = db.prepare(
    'INSERT OR IGNORE INTO txs (seq, root, size, start_entry, nodes, block) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
  const bySeq = db.prepare('SELECT * FROM txs WHERE seq = ?');
  const byRoot = db.prepare('SELECT * FROM txs WHERE root = ? ORDER BY finalized DESC, seq ASC');
  const maxSeq = db.prepare('SELECT MAX(seq) AS seq FROM txs');
  const addSegment = db.prepare('INSERT OR IGNORE INTO segments (seq, idx, proof) VALUES (?, ?, ?)');
  const getProof = db.prepare('SELECT proof FROM segments WHERE seq = ? AND idx = ?');
  const getProofs = db.prepare('SELECT proof FROM segments WHERE seq = ? AND idx >= ? AND idx < ? ORDER BY idx');
  const hasSegment = db.prepare('SELECT 1 AS one FROM segments WHERE seq = ? AND idx = ?');
  const countSegments = db.prepare('SELECT COUNT(*) AS n FROM segments WHERE seq = ?');
  const setUploaded = db.prepare('UPDATE txs SET uploaded = ? WHERE seq = ?');
  const finalize = db.prepare('UPDATE txs SET finalized = 1 WHERE seq = ?');

  const toTx = (row: Row): StoredTx => ({
    seq: row.seq,
    root: row.root as Hex,
    size: row.size,
    startEntryIndex: row.start_entry,
    merkleNodes: JSON.parse(row.nodes) as [number, Hex][],
    blockNumber: row.block,
    finalized: row.finalized === 1,
    uploadedSegments: row.uploaded,
  });

  const transaction = <T>(work: () => T): T => inTransaction(db, work);

  return {
    /** Records the submissions of a block range and moves the sync cursor, atomically. */
    addSynced(txs: readonly Omit<StoredTx, 'finalized' | 'uploadedSegments'>[], syncedBlock: number): void {
      transaction(() => {
        for (const tx of txs) {
          insertTx.run(tx.seq, tx.root.toLowerCase(), tx.size, tx.startEntryIndex, JSON.stringify(tx.merkleNodes), tx.blockNumber);
        }
        setMeta.run('syncedBlock', String(syncedBlock));
      });
    },
    syncedBlock(): number | undefined {
      const row = getMeta.get('syncedBlock') as { value: string } | undefined;
      return row ? Number(row.value) : undefined;
    },
    nextSeq(): number {
      const row = maxSeq.get() as { seq: number | null };
      return row.seq === null ? 0 : row.seq + 1;
    },
    bySeq(seq: number): StoredTx | undefined {
      const row = bySeq.get(seq) as Row | undefined;
      return row ? toTx(row) : undefined;
    },
    /** Every tx with this root, finalized ones first, then by sequence. */
    byRoot(root: Hex): StoredTx[] {
      return (byRoot.all(root.toLowerCase()) as Row[]).map(toTx);
    },
    hasSegment(seq: number, index: number): boolean {
      return hasSegment.get(seq, index) !== undefined;
    },
    /**
     * Marks a segment stored (its bytes must already be durable) with the proof it came with,
     * which later answers downloads with proof; returns how many segments the tx has.
     */
    addSegment(seq: number, index: number, proof: SegmentProof): number {
      return this.addSegments(seq, [{ index, proof }]);
    },
    /** Several segments of one tx in one transaction (one commit per request, not per segment). */
    addSegments(seq: number, entries: readonly { index: number; proof: SegmentProof }[]): number {
      return this.addSegmentGroups([{ seq, entries }])[0]!;
    },
    /** Segments of several requests (and txs) in one transaction: one commit for all of them. */
    addSegmentGroups(groups: readonly { seq: number; entries: readonly { index: number; proof: SegmentProof }[] }[]): number[] {
      return transaction(() =>
        groups.map(({ seq, entries }) => {
          for (const { index, proof } of entries) addSegment.run(seq, index, JSON.stringify(proof));
          const { n } = countSegments.get(seq) as { n: number };
          setUploaded.run(n, seq);
          return n;
        }),
      );
    },
    segmentProof(seq: number, index: number): SegmentProof {
      const row = getProof.get(seq, index) as { proof: string } | undefined;
      if (!row) throw new NotFoundError('STORAGE_SEGMENT_MISSING', `segment ${index} of tx ${seq} is not stored here`);
      return JSON.parse(row.proof) as SegmentProof;
    },
    /** Proofs of segments first … first+count-1, in order; undefined unless every one of them is stored. */
    segmentProofs(seq: number, first: number, count: number): SegmentProof[] | undefined {
      const rows = getProofs.all(seq, first, first + count) as { proof: string }[];
      return rows.length === count ? rows.map((row) => JSON.parse(row.proof) as SegmentProof) : undefined;
    },
    finalize(seq: number): void {
      finalize.run(seq);
    },
    close(): void {
      db.close();
    },
  };
}

export type TxStore = ReturnType<typeof sqliteTxStore>;
