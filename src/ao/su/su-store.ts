import { inTransaction, openSqlite } from '../../shared/sqlite.ts';

/** A process as the SU accepted it: the raw signed item plus the facts its slot 0 fixed. */
export type StoredProcess = {
  processId: string;
  raw: Uint8Array;
  timestamp: number;
  blockHeight: number;
};

/** One slot of a process's schedule: the assignment and (usually) the message it orders. */
export type StoredSlot = {
  processId: string;
  nonce: number;
  timestamp: number;
  blockHeight: number;
  hashChain: string;
  messageId: string;
  assignmentId: string;
  assignmentRaw: Uint8Array;
  /** The scheduled item's bytes; the process item itself for slot 0. */
  messageRaw: Uint8Array | null;
};

/** The last slot of a process: what the next assignment chains from. */
export type ProcessTip = { nonce: number; assignmentId: string; hashChain: string; timestamp: number };

export type SlotQuery = {
  processId: string;
  limit: number;
  /** Timestamp mode: `from` exclusive, `to` inclusive. */
  fromTimestamp?: number;
  toTimestamp?: number;
  /** Nonce mode: both inclusive. */
  fromNonce?: number;
  toNonce?: number;
};

type SlotRow = {
  pid: string;
  nonce: number;
  ts: number;
  height: number;
  hash_chain: string;
  message_id: string;
  assignment_id: string;
  assignment_raw: Uint8Array;
  message_raw: Uint8Array | null;
};

/**
 * The SU's schedule in SQLite (WAL, synchronous=FULL): a slot is on disk before the SU answers
 * for it. Slots are keyed by (process, nonce); ids are unique across the whole unit.
 */
export function sqliteSuStore(path: string) {
  const db = openSqlite(path);
  db.exec(`
    CREATE TABLE IF NOT EXISTS processes (
      pid TEXT PRIMARY KEY, raw BLOB NOT NULL, ts INTEGER NOT NULL, height INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS slots (
      pid TEXT NOT NULL, nonce INTEGER NOT NULL, ts INTEGER NOT NULL, height INTEGER NOT NULL,
      hash_chain TEXT NOT NULL, message_id TEXT NOT NULL, assignment_id TEXT NOT NULL,
      assignment_raw BLOB NOT NULL, message_raw BLOB,
      PRIMARY KEY (pid, nonce)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS slots_ts ON slots (pid, ts);
    CREATE UNIQUE INDEX IF NOT EXISTS slots_assignment ON slots (assignment_id);
    CREATE INDEX IF NOT EXISTS slots_message ON slots (message_id, pid);
    CREATE TABLE IF NOT EXISTS gateway_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, raw BLOB NOT NULL);
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `);
  const insertProcess = db.prepare('INSERT INTO processes (pid, raw, ts, height) VALUES (?, ?, ?, ?)');
  const getProcess = db.prepare('SELECT * FROM processes WHERE pid = ?');
  const insertSlot = db.prepare(
    `INSERT INTO slots (pid, nonce, ts, height, hash_chain, message_id, assignment_id, assignment_raw, message_raw)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const lastSlot = db.prepare('SELECT * FROM slots WHERE pid = ? ORDER BY nonce DESC LIMIT 1');
  const slotByMessage = db.prepare('SELECT * FROM slots WHERE message_id = ? AND pid = ? ORDER BY nonce LIMIT 1');
  const slotByAssignment = db.prepare('SELECT * FROM slots WHERE assignment_id = ?');
  const anySlotByMessage = db.prepare('SELECT pid FROM slots WHERE message_id = ? LIMIT 1');
  const rawByMessage = db.prepare('SELECT message_raw FROM slots WHERE message_id = ? AND message_raw IS NOT NULL LIMIT 1');
  const byTimestamp = db.prepare(
    'SELECT * FROM slots WHERE pid = ? AND ts > ? AND ts <= ? ORDER BY nonce LIMIT ?',
  );
  const byNonce = db.prepare('SELECT * FROM slots WHERE pid = ? AND nonce >= ? AND nonce <= ? ORDER BY nonce LIMIT ?');
  const pushOutbox = db.prepare('INSERT INTO gateway_outbox (raw) VALUES (?)');
  const peekOutbox = db.prepare('SELECT seq, raw FROM gateway_outbox ORDER BY seq LIMIT ?');
  const dropOutbox = db.prepare('DELETE FROM gateway_outbox WHERE seq <= ?');
  const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');

  const toSlot = (row: SlotRow): StoredSlot => ({
    processId: row.pid,
    nonce: row.nonce,
    timestamp: row.ts,
    blockHeight: row.height,
    hashChain: row.hash_chain,
    messageId: row.message_id,
    assignmentId: row.assignment_id,
    assignmentRaw: row.assignment_raw,
    messageRaw: row.message_raw,
  });

  return {
    /** Runs `work` in one transaction: one fsync for a whole batch of slots. */
    transaction<T>(work: () => T): T {
      return inTransaction(db, work);
    },
    addProcess(process: StoredProcess): void {
      insertProcess.run(process.processId, process.raw, process.timestamp, process.blockHeight);
    },
    process(processId: string): StoredProcess | undefined {
      const row = getProcess.get(processId) as { pid: string; raw: Uint8Array; ts: number; height: number } | undefined;
      return row && { processId: row.pid, raw: row.raw, timestamp: row.ts, blockHeight: row.height };
    },
    addSlot(slot: StoredSlot): void {
      insertSlot.run(
        slot.processId,
        slot.nonce,
        slot.timestamp,
        slot.blockHeight,
        slot.hashChain,
        slot.messageId,
        slot.assignmentId,
        slot.assignmentRaw,
        slot.messageRaw,
      );
    },
    tip(processId: string): ProcessTip | undefined {
      const row = lastSlot.get(processId) as SlotRow | undefined;
      return row && { nonce: row.nonce, assignmentId: row.assignment_id, hashChain: row.hash_chain, timestamp: row.ts };
    },
    latest(processId: string): StoredSlot | undefined {
      const row = lastSlot.get(processId) as SlotRow | undefined;
      return row && toSlot(row);
    },
    /** The slot of a message (or assignment) id within a process. */
    slotOf(processId: string, id: string): StoredSlot | undefined {
      const row = (slotByMessage.get(id, processId) ?? slotByAssignment.get(id)) as SlotRow | undefined;
      return row && row.pid === processId ? toSlot(row) : undefined;
    },
    /** Whether any process has scheduled this message id (the unit-wide duplicate check). */
    hasMessage(id: string): boolean {
      return anySlotByMessage.get(id) !== undefined || getProcess.get(id) !== undefined;
    },
    /** The signed bytes of an item scheduled here, in any process. */
    rawItem(id: string): Uint8Array | undefined {
      return (rawByMessage.get(id) as { message_raw: Uint8Array } | undefined)?.message_raw;
    },
    slots(query: SlotQuery): StoredSlot[] {
      const rows =
        query.fromNonce !== undefined || query.toNonce !== undefined
          ? byNonce.all(query.processId, query.fromNonce ?? 0, query.toNonce ?? Number.MAX_SAFE_INTEGER, query.limit)
          : byTimestamp.all(
              query.processId,
              query.fromTimestamp ?? -1,
              query.toTimestamp ?? Number.MAX_SAFE_INTEGER,
              query.limit,
            );
      return (rows as SlotRow[]).map(toSlot);
    },
    queueForGateway(raw: Uint8Array): void {
      pushOutbox.run(raw);
    },
    gatewayBacklog(limit: number): { seq: number; raw: Uint8Array }[] {
      return peekOutbox.all(limit) as { seq: number; raw: Uint8Array }[];
    },
    gatewayDone(upToSeq: number): void {
      dropOutbox.run(upToSeq);
    },
    meta(key: string): string | undefined {
      return (getMeta.get(key) as { value: string } | undefined)?.value;
    },
    setMeta(key: string, value: string): void {
      setMeta.run(key, value);
    },
    close(): void {
      db.close();
    },
  };
}

export type SuStore = ReturnType<typeof sqliteSuStore>;
