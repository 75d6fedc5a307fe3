import { open, mkdir } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LevityError } from '../protocol/errors.ts';

/**
 * One state-changing JSON-RPC request the chain accepted, in acceptance order.
 * `blockTimestamp` is the timestamp of the first block the request mined, so a replay
 * rebuilds byte-identical blocks (same hashes) whatever the wall clock says then.
 */
export type JournalRecord = {
  method: string;
  params: unknown[];
  blockTimestamp?: number;
};

export type Journal = {
  /** Records found on disk when the journal was opened. */
  readonly records: readonly JournalRecord[];
  /** Appends and flushes to disk before resolving: the caller may acknowledge after this. */
  append(record: JournalRecord): Promise<void>;
  close(): Promise<void>;
};

/**
 * Opens (or creates) an append-only NDJSON journal. A torn last line, left by a crash in the
 * middle of a write, was never acknowledged, so it is cut off; damage anywhere else is an error.
 */
export async function openJournal(path: string): Promise<Journal> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, 'a+');
  let records: JournalRecord[];
  try {
    records = await readRecords(handle, path);
  } catch (error) {
    await handle.close(); // a damaged journal must not leak its file descriptor
    throw error;
  }
  let closed = false;
  return {
    records,
    async append(record) {
      if (closed) throw new LevityError('CHAIN_JOURNAL_CLOSED', 'the chain journal is closed');
      await handle.appendFile(`${JSON.stringify(record)}\n`);
      await handle.datasync();
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

async function readRecords(handle: FileHandle, path: string): Promise<JournalRecord[]> {
  const text = (await handle.readFile()).toString('utf8');
  const records: JournalRecord[] = [];
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf('\n', offset);
    if (end === -1) break; // torn tail: no newline means the write never finished
    const line = text.slice(offset, end);
    try {
      records.push(parseRecord(JSON.parse(line)));
    } catch (cause) {
      throw new LevityError('CHAIN_JOURNAL_CORRUPT', `chain journal ${path} is damaged at byte ${Buffer.byteLength(text.slice(0, offset), 'utf8')}`, {
        details: 'the journal is the chain state; restore it from a backup or start a new data dir',
        cause,
      });
    }
    offset = end + 1;
  }
  const goodBytes = Buffer.byteLength(text.slice(0, offset), 'utf8');
  if (goodBytes < Buffer.byteLength(text, 'utf8')) await handle.truncate(goodBytes);
  return records;
}

function parseRecord(value: unknown): JournalRecord {
  if (typeof value !== 'object' || value === null) throw new Error('record is not an object');
  const { method, params, blockTimestamp } = value as Record<string, unknown>;
  if (typeof method !== 'string' || !Array.isArray(params)) throw new Error('record lacks method or params');
  if (blockTimestamp !== undefined && typeof blockTimestamp !== 'number') throw new Error('bad blockTimestamp');
  return blockTimestamp === undefined ? { method, params } : { method, params, blockTimestamp };
}
