import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { inTransaction } from '../shared/sqlite.ts';

/**
 * Opens the gateway's SQLite file (creating the schema on first use) in WAL mode with
 * synchronous=FULL: a commit is on disk before it returns, so whatever it covers survives
 * kill -9 and power loss. The writer and the readers each open their own connection.
 */
export function openGatewayDb(path: string): DatabaseSync {
  mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec(`
    PRAGMA busy_timeout = 10000;
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA cache_size = -65536;
    CREATE TABLE IF NOT EXISTS owners (ref INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, key BLOB NOT NULL, sig_type INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS blocks (height INTEGER PRIMARY KEY, id TEXT NOT NULL, timestamp INTEGER NOT NULL, previous TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS bundles (ref INTEGER PRIMARY KEY, root TEXT NOT NULL UNIQUE, id TEXT NOT NULL UNIQUE,
      size INTEGER NOT NULL, items INTEGER NOT NULL, created_ms INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS items (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner INTEGER NOT NULL, sig_type INTEGER NOT NULL, signature BLOB NOT NULL,
      recipient TEXT, anchor BLOB, data_type TEXT, data_size INTEGER NOT NULL, data_offset INTEGER NOT NULL,
      raw_size INTEGER NOT NULL, height INTEGER NOT NULL, timestamp INTEGER NOT NULL, bundle INTEGER, bundle_offset INTEGER,
      parent INTEGER, parent_offset INTEGER, tags_json TEXT);
    CREATE INDEX IF NOT EXISTS items_height ON items (height);
    CREATE INDEX IF NOT EXISTS items_owner ON items (owner, height);
    CREATE INDEX IF NOT EXISTS items_recipient ON items (recipient, height);
    CREATE INDEX IF NOT EXISTS items_bundle ON items (bundle, height);
    CREATE TABLE IF NOT EXISTS tags (item INTEGER NOT NULL, pos INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (item, pos)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS tag_index (name TEXT NOT NULL, value TEXT NOT NULL, height INTEGER NOT NULL, item INTEGER NOT NULL,
      PRIMARY KEY (name, value, height, item)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY, raw BLOB NOT NULL);
  `);
  addColumns(db);
  return db;
}

/** Columns added since the first release, for indexes made before them. */
const ADDED_COLUMNS = [
  // Items unpacked from a nested bundle: the seq of the item whose bytes hold them, and where they start in them.
  ['parent', 'INTEGER'],
  ['parent_offset', 'INTEGER'],
  // The tags again as a JSON array of {name, value}, so GraphQL writes a node without reading the tags table.
  ['tags_json', 'TEXT'],
] as const;

/** Both connections may open at once, so the check and the change share one transaction. */
function addColumns(db: DatabaseSync): void {
  const missing = () => {
    const have = new Set((db.prepare('PRAGMA table_info(items)').all() as { name: string }[]).map((column) => column.name));
    return ADDED_COLUMNS.filter(([name]) => !have.has(name));
  };
  if (missing().length > 0) {
    inTransaction(db, () => {
      for (const [name, type] of missing()) db.exec(`ALTER TABLE items ADD COLUMN ${name} ${type}`);
    });
  }
  db.exec('CREATE INDEX IF NOT EXISTS items_parent ON items (parent, height) WHERE parent IS NOT NULL');
}

export { inTransaction };
