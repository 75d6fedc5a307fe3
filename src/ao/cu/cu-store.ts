import type { EvalResult } from '../../protocol/ao/types.ts';
import { inTransaction, openSqlite } from '../../shared/sqlite.ts';

/** One evaluation: a scheduled message (with nonce and id) or a cron tick (with `cron`). */
export type StoredEvaluation = {
  processId: string;
  /** The evaluation's position in the process's history, counting crons. */
  ordinate: number;
  timestamp: number;
  blockHeight: number;
  nonce: number | null;
  messageId: string | null;
  assignmentId: string | null;
  cron: string | null;
  result: EvalResult;
};

/** How far a process has been evaluated, and where its last checkpoint is. */
export type ProcessProgress = {
  processId: string;
  ordinate: number;
  nonce: number;
  timestamp: number;
  blockHeight: number;
  checkpoint: { ordinate: number; nonce: number; timestamp: number; blockHeight: number; file: string } | null;
};

export type ResultQuery = {
  processId: string;
  sort: 'ASC' | 'DESC';
  limit: number;
  /** Exclusive bounds on (timestamp, ordinate). */
  after?: { timestamp: number; ordinate: number };
  before?: { timestamp: number; ordinate: number };
  cronOnly?: boolean;
};

type EvalRow = {
  pid: string;
  ordinate: number;
  ts: number;
  height: number;
  nonce: number | null;
  message_id: string | null;
  assignment_id: string | null;
  cron: string | null;
  result: string;
};

/**
 * The CU's results and progress. Everything here can be recomputed from the SU log, so
 * synchronous=NORMAL is enough: a crash loses at most the tail, which is evaluated again.
 */
export function sqliteCuStore(path: string) {
  const db = openSqlite(path, { synchronous: 'NORMAL' });
  db.exec(`
    CREATE TABLE IF NOT EXISTS evaluations (
      pid TEXT NOT NULL, ordinate INTEGER NOT NULL, ts INTEGER NOT NULL, height INTEGER NOT NULL,
      nonce INTEGER, message_id TEXT, assignment_id TEXT, cron TEXT, is_error INTEGER NOT NULL, result TEXT NOT NULL,
      PRIMARY KEY (pid, ordinate)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS evaluations_message ON evaluations (message_id, pid);
    CREATE INDEX IF NOT EXISTS evaluations_assignment ON evaluations (assignment_id);
    CREATE TABLE IF NOT EXISTS progress (pid TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const insert = db.prepare(
    `INSERT OR IGNORE INTO evaluations (pid, ordinate, ts, height, nonce, message_id, assignment_id, cron, is_error, result)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byMessage = db.prepare('SELECT * FROM evaluations WHERE message_id = ? AND pid = ? ORDER BY ordinate LIMIT 1');
  const byAssignment = db.prepare('SELECT * FROM evaluations WHERE assignment_id = ? AND pid = ?');
  const getProgress = db.prepare('SELECT value FROM progress WHERE pid = ?');
  const putProgress = db.prepare('INSERT INTO progress (pid, value) VALUES (?, ?) ON CONFLICT (pid) DO UPDATE SET value = excluded.value');
  const listQueries = new Map<string, ReturnType<typeof db.prepare>>();

  const toEvaluation = (row: EvalRow): StoredEvaluation => ({
    processId: row.pid,
    ordinate: row.ordinate,
    timestamp: row.ts,
    blockHeight: row.height,
    nonce: row.nonce,
    messageId: row.message_id,
    assignmentId: row.assignment_id,
    cron: row.cron,
    result: JSON.parse(row.result) as EvalResult,
  });

  /** Errored evaluations never show in listings (the reference CU's rule). */
  function listQuery(query: ResultQuery) {
    const key = `${query.sort}${query.after ? 'a' : ''}${query.before ? 'b' : ''}${query.cronOnly ? 'c' : ''}`;
    let statement = listQueries.get(key);
    if (!statement) {
      const where = ['pid = ?', 'is_error = 0'];
      if (query.after) where.push('(ts, ordinate) > (?, ?)');
      if (query.before) where.push('(ts, ordinate) < (?, ?)');
      if (query.cronOnly) where.push('cron IS NOT NULL');
      const order = query.sort === 'ASC' ? 'ASC' : 'DESC';
      statement = db.prepare(`SELECT * FROM evaluations WHERE ${where.join(' AND ')} ORDER BY ts ${order}, ordinate ${order} LIMIT ?`);
      listQueries.set(key, statement);
    }
    return statement;
  }

  return {
    /** Records evaluations and the progress they reach, atomically. */
    record(evaluations: readonly StoredEvaluation[], progress: ProcessProgress): void {
      inTransaction(db, () => {
        for (const e of evaluations) {
          insert.run(
            e.processId,
            e.ordinate,
            e.timestamp,
            e.blockHeight,
            e.nonce,
            e.messageId,
            e.assignmentId,
            e.cron,
            e.result.Error === undefined ? 0 : 1,
            JSON.stringify(e.result),
          );
        }
        putProgress.run(progress.processId, JSON.stringify(progress));
      });
    },
    saveProgress(progress: ProcessProgress): void {
      putProgress.run(progress.processId, JSON.stringify(progress));
    },
    progress(processId: string): ProcessProgress | undefined {
      const row = getProgress.get(processId) as { value: string } | undefined;
      return row && (JSON.parse(row.value) as ProcessProgress);
    },
    /** The evaluation of a message id, or of an assignment id (both name the same slot). */
    evaluationOf(processId: string, id: string): StoredEvaluation | undefined {
      const row = (byMessage.get(id, processId) ?? byAssignment.get(id, processId)) as EvalRow | undefined;
      return row && toEvaluation(row);
    },
    list(query: ResultQuery): StoredEvaluation[] {
      const params: (string | number)[] = [query.processId];
      if (query.after) params.push(query.after.timestamp, query.after.ordinate);
      if (query.before) params.push(query.before.timestamp, query.before.ordinate);
      params.push(query.limit);
      return (listQuery(query).all(...params) as EvalRow[]).map(toEvaluation);
    },
    close(): void {
      db.close();
    },
  };
}

export type CuStore = ReturnType<typeof sqliteCuStore>;
