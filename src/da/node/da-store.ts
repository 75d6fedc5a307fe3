import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { bytesToHex, hexToBytes } from 'viem';
import type { Hex } from 'viem';
import type { BlobHeader, CellRef, CellWithProof } from '../../protocol/da/types.ts';
import { inTransaction, openSqlite } from '../../shared/sqlite.ts';

/** The attestation this node gave for a root, answered again verbatim when the root comes back. */
export type StoredAttestation = {
  dataRoot: Hex;
  /** This node's committee index when it signed. */
  index: number;
  /** 96-byte compressed G2 BLS signature over the attestation message. */
  signature: Uint8Array;
  cells: number;
};

export type DaStore = {
  header(root: Hex): BlobHeader | undefined;
  attestation(root: Hex): StoredAttestation | undefined;
  /** Every cell held for a root, in (blob, cell) order. */
  heldRefs(root: Hex): CellRef[];
  /** Held cells for a root: those named (the ones not held are skipped), or all of them. */
  cells(root: Hex, refs?: readonly CellRef[]): CellWithProof[];
  /**
   * Stores verified cells of a root that is not attested yet, in one transaction. Call it in
   * batches (a 16 MiB custody set is ~18 MB: one transaction would hold the event loop for
   * hundreds of ms), then `putCustody`. Until then the root is pending: invisible to readers, and
   * its cells are deleted at the next open if the process dies first.
   */
  putCells(root: Hex, cells: readonly CellWithProof[]): void;
  /**
   * Makes a root's cells held and records the signature given for them, in one transaction
   * (synchronous FULL: committed before the answer goes out, so an acknowledged attestation
   * survives kill -9). A root already held is left as it was and its first attestation returned.
   */
  putCustody(entry: { dataRoot: Hex; header: BlobHeader; index: number; signature: Uint8Array; cells: number }): StoredAttestation;
  /** Deletes the cells of a root that is still pending (an abandoned custody session); a held root is kept. */
  dropPending(root: Hex): void;
  stats(): { roots: number; cells: number };
  close(): void;
};

type HeaderRow = { epoch: string; payload_size: number; blob_count: number; commitments: Uint8Array };
type AttestationRow = { node_index: number; signature: Uint8Array; cell_count: number };
type CellRow = { blob: number; cell: number; data: Uint8Array; proof: Uint8Array };

const COMMITMENT_BYTES = 48;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS headers (
  root TEXT PRIMARY KEY,
  epoch TEXT NOT NULL,
  payload_size INTEGER NOT NULL,
  blob_count INTEGER NOT NULL,
  commitments BLOB NOT NULL,
  node_index INTEGER NOT NULL,
  signature BLOB NOT NULL,
  cell_count INTEGER NOT NULL,
  stored_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (root TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS cells (
  root TEXT NOT NULL,
  blob INTEGER NOT NULL,
  cell INTEGER NOT NULL,
  data BLOB NOT NULL,
  proof BLOB NOT NULL,
  PRIMARY KEY (root, blob, cell)
);
`;

/** The DA node's custody store: headers, the cells it verified, and the signature it gave. */
export function openDaStore(options: { path: string; now?: () => number }): DaStore {
  // FULL: an attestation is a promise to serve these cells; it must not outlive the cells.
  const db: DatabaseSync = openSqlite(options.path, { synchronous: 'FULL' });
  db.exec(SCHEMA);
  // Cells of roots whose custody never completed (a crash between batches): never attested.
  inTransaction(db, () => {
    db.exec('DELETE FROM cells WHERE root IN (SELECT root FROM pending); DELETE FROM pending;');
  });
  const now = options.now ?? Date.now;
  const statements = {
    header: db.prepare('SELECT epoch, payload_size, blob_count, commitments FROM headers WHERE root = ?'),
    attestation: db.prepare('SELECT node_index, signature, cell_count FROM headers WHERE root = ?'),
    refs: db.prepare('SELECT blob, cell FROM cells WHERE root = ? ORDER BY blob, cell'),
    all: db.prepare('SELECT blob, cell, data, proof FROM cells WHERE root = ? ORDER BY blob, cell'),
    one: db.prepare('SELECT blob, cell, data, proof FROM cells WHERE root = ? AND blob = ? AND cell = ?'),
    insertHeader: db.prepare(
      `INSERT INTO headers (root, epoch, payload_size, blob_count, commitments, node_index, signature, cell_count, stored_ms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertPending: db.prepare('INSERT OR IGNORE INTO pending (root) VALUES (?)'),
    deletePending: db.prepare('DELETE FROM pending WHERE root = ?'),
    deletePendingCells: db.prepare('DELETE FROM cells WHERE root = ? AND root IN (SELECT root FROM pending)'),
    insertCell: db.prepare('INSERT OR REPLACE INTO cells (root, blob, cell, data, proof) VALUES (?, ?, ?, ?, ?)'),
    countRoots: db.prepare('SELECT COUNT(*) AS n FROM headers'),
    countCells: db.prepare('SELECT COUNT(*) AS n FROM cells'),
  } satisfies Record<string, StatementSync>;
  const key = (root: Hex) => root.toLowerCase();

  const attestation = (root: Hex): StoredAttestation | undefined => {
    const row = statements.attestation.get(key(root)) as AttestationRow | undefined;
    if (!row) return undefined;
    return { dataRoot: key(root) as Hex, index: row.node_index, signature: new Uint8Array(row.signature), cells: row.cell_count };
  };
  const toCell = (row: CellRow): CellWithProof => ({
    blob: row.blob,
    cell: row.cell,
    data: new Uint8Array(row.data),
    proof: new Uint8Array(row.proof),
  });

  return {
    header(root) {
      const row = statements.header.get(key(root)) as HeaderRow | undefined;
      if (!row) return undefined;
      const commitments: Hex[] = [];
      for (let at = 0; at < row.commitments.length; at += COMMITMENT_BYTES) {
        commitments.push(bytesToHex(row.commitments.subarray(at, at + COMMITMENT_BYTES)));
      }
      return { epoch: BigInt(row.epoch), payloadSize: row.payload_size, blobCount: row.blob_count, commitments };
    },
    attestation,
    heldRefs(root) {
      return (statements.refs.all(key(root)) as { blob: number; cell: number }[]).map((row) => ({ blob: row.blob, cell: row.cell }));
    },
    cells(root, refs) {
      if (!refs) return (statements.all.all(key(root)) as CellRow[]).map(toCell);
      const found: CellWithProof[] = [];
      for (const ref of refs) {
        const row = statements.one.get(key(root), ref.blob, ref.cell) as CellRow | undefined;
        if (row) found.push(toCell(row));
      }
      return found;
    },
    putCells(root, cells) {
      inTransaction(db, () => {
        if (attestation(root)) return; // a concurrent copy of the request got there first
        statements.insertPending.run(key(root));
        for (const cell of cells) statements.insertCell.run(key(root), cell.blob, cell.cell, cell.data, cell.proof);
      });
    },
    putCustody(entry) {
      return inTransaction(db, () => {
        const existing = attestation(entry.dataRoot);
        if (existing) return existing;
        const { header } = entry;
        const commitments = new Uint8Array(header.commitments.length * COMMITMENT_BYTES);
        header.commitments.forEach((commitment, i) => commitments.set(hexToBytes(commitment), i * COMMITMENT_BYTES));
        const root = key(entry.dataRoot);
        statements.insertHeader.run(
          root,
          header.epoch.toString(),
          header.payloadSize,
          header.blobCount,
          commitments,
          entry.index,
          entry.signature,
          entry.cells,
          now(),
        );
        statements.deletePending.run(root);
        return { dataRoot: root as Hex, index: entry.index, signature: entry.signature, cells: entry.cells };
      });
    },
    dropPending(root) {
      inTransaction(db, () => {
        if (attestation(root)) return;
        statements.deletePendingCells.run(key(root));
        statements.deletePending.run(key(root));
      });
    },
    stats() {
      const roots = (statements.countRoots.get() as { n: number }).n;
      const cells = (statements.countCells.get() as { n: number }).n;
      return { roots, cells };
    },
    close() {
      db.close();
    },
  };
}
