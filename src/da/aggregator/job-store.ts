import type { DatabaseSync } from 'node:sqlite';
import type { Hex } from 'viem';
import { openSqlite } from '../../shared/sqlite.ts';

export type JobStatus = 'pending' | 'dispersed' | 'confirmed' | 'failed';

/**
 * Milliseconds: commitMs and encodeMs from the request's start until every commitment / every blob's cells were
 * computed; disperseMs from the data root to the quorum (it overlaps encoding); tailMs from the last blob encoded to
 * the quorum; certifyMs for the certificate transaction.
 */
export type JobTimings = { commitMs?: number; encodeMs?: number; disperseMs?: number; tailMs?: number; certifyMs?: number };

/** What a client sees of one submission (GET /v1/blobs/:id). */
export type DispersalJob = {
  id: string;
  status: JobStatus;
  payloadSize: number;
  dataRoot?: Hex;
  epoch?: string;
  blobCount?: number;
  signers?: number[];
  txHash?: Hex;
  gasUsed?: string;
  error?: { code: string; message: string };
  timings?: JobTimings;
  createdAt: number;
};

/**
 * A certificate ready for the chain: kept with a dispersed job so a restarted aggregator can
 * still submit it (the cells are already custodied; only the transaction is left).
 */
export type PendingCertificate = {
  epoch: string;
  payloadSize: number;
  blobCount: number;
  commitmentsHash: Hex;
  signers: string;
  signature: Hex;
};

type Row = {
  id: string;
  status: JobStatus;
  payload_size: number;
  data_root: string | null;
  epoch: string | null;
  blob_count: number | null;
  signers: string | null;
  tx_hash: string | null;
  gas_used: string | null;
  error_code: string | null;
  error_message: string | null;
  timings: string | null;
  certificate: string | null;
  created_at: number;
};

export type JobStore = ReturnType<typeof openJobStore>;

/** Durable job records: a status answered once is never forgotten, across restarts. */
export function openJobStore(path: string) {
  const db: DatabaseSync = openSqlite(path);
  db.exec(`CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    payload_size INTEGER NOT NULL,
    data_root TEXT,
    epoch TEXT,
    blob_count INTEGER,
    signers TEXT,
    tx_hash TEXT,
    gas_used TEXT,
    error_code TEXT,
    error_message TEXT,
    timings TEXT,
    certificate TEXT,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS jobs_by_root ON jobs (data_root);`);

  const insert = db.prepare('INSERT INTO jobs (id, status, payload_size, created_at) VALUES (?, ?, ?, ?)');
  const byId = db.prepare('SELECT * FROM jobs WHERE id = ?');
  // The newest submission of a root is the one worth showing: an earlier one may have failed.
  const byRoot = db.prepare("SELECT * FROM jobs WHERE data_root = ? ORDER BY status = 'confirmed' DESC, created_at DESC LIMIT 1");
  const unfinished = db.prepare("SELECT * FROM jobs WHERE status IN ('pending', 'dispersed')");
  const update = db.prepare(`UPDATE jobs SET status = ?, data_root = ?, epoch = ?, blob_count = ?, signers = ?, tx_hash = ?,
    gas_used = ?, error_code = ?, error_message = ?, timings = ?, certificate = ? WHERE id = ?`);

  return {
    create(id: string, payloadSize: number, now: number): DispersalJob {
      insert.run(id, 'pending', payloadSize, now);
      return { id, status: 'pending', payloadSize, createdAt: now };
    },
    get(id: string): DispersalJob | undefined {
      const row = byId.get(id) as Row | undefined;
      return row && toJob(row);
    },
    byRoot(root: string): DispersalJob | undefined {
      const row = byRoot.get(root.toLowerCase()) as Row | undefined;
      return row && toJob(row);
    },
    /** Jobs a stop interrupted, with the certificate of those that got as far as one. */
    unfinished(): Array<{ job: DispersalJob; certificate: PendingCertificate | undefined }> {
      return (unfinished.all() as Row[]).map((row) => ({
        job: toJob(row),
        certificate: row.certificate ? (JSON.parse(row.certificate) as PendingCertificate) : undefined,
      }));
    },
    save(job: DispersalJob, certificate?: PendingCertificate): void {
      update.run(
        job.status,
        job.dataRoot?.toLowerCase() ?? null,
        job.epoch ?? null,
        job.blobCount ?? null,
        job.signers ? JSON.stringify(job.signers) : null,
        job.txHash ?? null,
        job.gasUsed ?? null,
        job.error?.code ?? null,
        job.error?.message ?? null,
        job.timings ? JSON.stringify(job.timings) : null,
        certificate ? JSON.stringify(certificate) : null,
        job.id,
      );
    },
    close(): void {
      db.close();
    },
  };
}

function toJob(row: Row): DispersalJob {
  const job: DispersalJob = { id: row.id, status: row.status, payloadSize: row.payload_size, createdAt: row.created_at };
  if (row.data_root) job.dataRoot = row.data_root as Hex;
  if (row.epoch) job.epoch = row.epoch;
  if (row.blob_count !== null) job.blobCount = row.blob_count;
  if (row.signers) job.signers = JSON.parse(row.signers) as number[];
  if (row.tx_hash) job.txHash = row.tx_hash as Hex;
  if (row.gas_used) job.gasUsed = row.gas_used;
  if (row.error_code) job.error = { code: row.error_code, message: row.error_message ?? '' };
  if (row.timings) job.timings = JSON.parse(row.timings) as JobTimings;
  return job;
}
