import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export type OpenSqliteOptions = {
  /**
   * FULL (the default) makes a commit survive kill -9 and power loss; NORMAL in WAL mode can
   * lose the last commits on power loss, which suits data that can be recomputed.
   */
  synchronous?: 'FULL' | 'NORMAL';
};

/** Opens (creating its directory) a SQLite database in WAL mode, the way every Levity store does. */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): DatabaseSync {
  mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous ?? 'FULL'};`);
  return db;
}

/** Runs `work` in one write transaction: all of it commits (one fsync) or none of it does. */
export function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
