import { Worker } from 'node:worker_threads';
import type { SQLInputValue, StatementSync } from 'node:sqlite';
import type { Tag } from '../protocol/ans104/types.ts';
import { LevityError } from '../protocol/errors.ts';
import { ITEM_COLUMNS, planItemQuery } from './item-query.ts';
import type { ItemQuery } from './item-query.ts';
import { openGatewayDb } from './store-schema.ts';
import type { WriteReply, WriteRequest } from './store-writes.ts';

/** The chain block an item was stamped with when the gateway accepted it (timestamp in seconds). */
export type BlockInfo = { height: number; timestamp: number; id: string; previous?: string };

/** What the service hands the store for one accepted, verified item. */
export type NewItem = {
  id: string;
  signatureType: number;
  signature: Uint8Array;
  ownerAddress: string;
  ownerKey: Uint8Array;
  /** base64url target, when the item has one. */
  recipient: string | undefined;
  anchor: Uint8Array | undefined;
  tags: readonly Tag[];
  /** The Content-Type tag, if any. */
  dataType: string | undefined;
  dataSize: number;
  /** Where the data starts inside `raw`. */
  dataOffset: number;
  raw: Uint8Array;
  block: BlockInfo;
  /**
   * When `raw` is a nested bundle: where each of its (verified) items lies in `raw`. The writer
   * indexes them with the item, in the same commit, and their bytes stay inside the item's.
   */
  nested?: readonly NestedPlacement[];
};

/** An item inside another item's raw bytes: `size` bytes from `offset`. */
export type NestedPlacement = { offset: number; size: number };

export type ItemRow = {
  seq: number;
  id: string;
  ownerRef: number;
  signatureType: number;
  signature: Uint8Array;
  recipient: string | null;
  anchor: Uint8Array | null;
  dataType: string | null;
  dataSize: number;
  dataOffset: number;
  rawSize: number;
  height: number;
  timestamp: number;
  /** Null while the item waits in the pending area for the bundler, and for nested items. */
  bundleRef: number | null;
  bundleOffset: number | null;
  /** A nested item: the seq of the item whose bytes hold it, and where it starts in them. */
  parentRef: number | null;
  parentOffset: number | null;
};

export type OwnerRow = { ref: number; address: string; key: Uint8Array; signatureType: number };
export type BundleRow = { ref: number; root: string; id: string; size: number; items: number; createdMs: number };
export type BlockRow = { height: number; id: string; timestamp: number; previous: string };
export type NewBundle = { root: string; id: string; size: number; createdMs: number };
export type BundlePlacement = { seq: number; offset: number };
export type PendingItem = { seq: number; raw: Uint8Array };
export type BlockQuery = {
  ids?: readonly string[];
  min?: number;
  max?: number;
  first: number;
  after?: number;
  sort: 'HEIGHT_ASC' | 'HEIGHT_DESC';
};

/**
 * The gateway's index: items, their tags and owners, the blocks they were stamped with, the
 * bundles that hold them, and the raw bytes of items not bundled yet. Reads run here on their
 * own connection; writes go to a writer thread that commits each batch with fsync
 * (WAL, synchronous=FULL), so a write resolves only once it survives kill -9 and power loss,
 * and the event loop keeps serving while the disk syncs.
 */
export function sqliteGatewayStore(path: string) {
  const db = openGatewayDb(path);
  const writer = storeWriter(path);
  // For SQL that writes JSON (the GraphQL fast path): SQLite has no base64.
  db.function('b64url', { deterministic: true }, (bytes) =>
    bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url') : null,
  );

  const ownerRefOf = db.prepare('SELECT ref FROM owners WHERE address = ?');
  const ownerByRef = db.prepare('SELECT ref, address, key, sig_type AS signatureType FROM owners WHERE ref = ?');
  const itemById = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.id = ?`);
  const itemBySeq = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items i WHERE i.seq = ?`);
  const seqById = db.prepare('SELECT seq FROM items WHERE id = ?');
  const tagsOf = db.prepare('SELECT name, value FROM tags WHERE item = ? ORDER BY pos');
  const pendingRaw = db.prepare('SELECT raw FROM pending WHERE seq = ?');
  const pendingSlice = db.prepare('SELECT substr(raw, ?, ?) AS raw FROM pending WHERE seq = ?');
  const pendingScan = db.prepare('SELECT seq, raw FROM pending ORDER BY seq');
  const pendingStats = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(raw)), 0) AS bytes FROM pending');
  const bundleByRef = db.prepare('SELECT ref, root, id, size, items, created_ms AS createdMs FROM bundles WHERE ref = ?');
  const bundleRefById = db.prepare('SELECT ref FROM bundles WHERE id = ?');
  const blockAt = db.prepare('SELECT height, id, timestamp, previous FROM blocks WHERE height = ?');
  const latestBlock = db.prepare('SELECT height, id, timestamp, previous FROM blocks ORDER BY height DESC LIMIT 1');
  // Items are never deleted, so the last sequence number is the count, without a scan.
  const counts = db.prepare('SELECT (SELECT COALESCE(MAX(seq), 0) FROM items) AS items, (SELECT COUNT(*) FROM blocks) AS blocks, (SELECT COUNT(*) FROM bundles) AS bundles');

  // Dynamic query texts repeat (the planner emits a few shapes), so their statements are reused.
  const statements = new Map<string, StatementSync>();
  const statement = (sql: string): StatementSync => {
    let found = statements.get(sql);
    if (!found) {
      if (statements.size >= 512) statements.clear();
      found = db.prepare(sql);
      statements.set(sql, found);
    }
    return found;
  };
  const planFor = (query: ItemQuery, select?: string) => {
    const ownerRefs = query.owners?.flatMap((address) => {
      const row = ownerRefOf.get(address) as { ref: number } | undefined;
      return row ? [row.ref] : [];
    });
    // `bundledIn` names either a bundle this gateway stored or an item holding a nested bundle.
    const bundleRefs = query.bundledIn?.flatMap((id) => {
      const row = bundleRefById.get(id) as { ref: number } | undefined;
      return row ? [row.ref] : [];
    });
    const parentRefs = query.bundledIn?.flatMap((id) => {
      const row = seqById.get(id) as { seq: number } | undefined;
      return row ? [row.seq] : [];
    });
    const count = (sql: string, params: (string | number)[]) => (statement(sql).get(...params) as { n: number }).n;
    return planItemQuery(query, { ownerRefs, bundleRefs, parentRefs }, count, select);
  };

  // Owners and blocks never change once written, and there are few of them next to items.
  const owners = new Map<number, OwnerRow>();
  const blocks = new Map<number, BlockRow>();

  return {
    /**
     * Indexes a batch and keeps its raw bytes in the pending area, all in one durable commit.
     * Resolves, per item, whether it was new (false: the id was already known).
     */
    addItems(items: readonly NewItem[]): Promise<boolean[]> {
      if (items.length === 0) return Promise.resolve([]);
      return writer.call<boolean[]>({ op: 'addItems', items: [...items] });
    },
    /**
     * Records a stored bundle and where each of its items sits in it, and drops those items from
     * the pending area, in one commit. A bundle stored twice (a retry after a crash) is one row.
     */
    addBundle(bundle: NewBundle, placements: readonly BundlePlacement[]): Promise<BundleRow> {
      return writer.call<BundleRow>({ op: 'addBundle', bundle, placements: [...placements] });
    },
    itemById(id: string): ItemRow | undefined {
      return itemById.get(id) as ItemRow | undefined;
    },
    itemBySeq(seq: number): ItemRow | undefined {
      return itemBySeq.get(seq) as ItemRow | undefined;
    },
    tagsOf(seq: number): Tag[] {
      return (tagsOf.all(seq) as Tag[]).map(({ name, value }) => ({ name, value }));
    },
    owner(ref: number): OwnerRow {
      let row = owners.get(ref);
      if (!row) {
        row = ownerByRef.get(ref) as OwnerRow;
        if (owners.size >= 10_000) owners.clear();
        owners.set(ref, row);
      }
      return row;
    },
    /** Items matching an Arweave-style filter, in sort order, plus whether more follow. */
    queryItems(query: ItemQuery): { rows: ItemRow[]; hasNextPage: boolean } {
      const plan = planFor(query);
      if (!plan) return { rows: [], hasNextPage: false };
      const rows = statement(plan.sql).all(...(plan.params as SQLInputValue[])) as ItemRow[];
      const hasNextPage = rows.length > query.first;
      return { rows: hasNextPage ? rows.slice(0, query.first) : rows, hasNextPage };
    },
    /**
     * `queryItems` with the caller's select list (SQL over `i`, the items row) in place of the
     * item columns, rows as arrays: the GraphQL fast path has SQLite write each node's JSON.
     */
    queryItemsAs(query: ItemQuery, select: string): { rows: unknown[][]; hasNextPage: boolean } {
      const plan = planFor(query, select);
      if (!plan) return { rows: [], hasNextPage: false };
      const found = statement(plan.sql);
      found.setReturnArrays(true);
      const rows = found.all(...(plan.params as SQLInputValue[])) as unknown as unknown[][];
      const hasNextPage = rows.length > query.first;
      return { rows: hasNextPage ? rows.slice(0, query.first) : rows, hasNextPage };
    },
    block(height: number): BlockRow | undefined {
      let row = blocks.get(height);
      if (!row) {
        row = blockAt.get(height) as BlockRow | undefined;
        if (!row) return undefined;
        if (blocks.size >= 10_000) blocks.clear();
        blocks.set(height, row);
      }
      return row;
    },
    latestBlock(): BlockRow | undefined {
      return latestBlock.get() as BlockRow | undefined;
    },
    queryBlocks(query: BlockQuery): { rows: BlockRow[]; hasNextPage: boolean } {
      const where: string[] = [];
      const params: SQLInputValue[] = [];
      const asc = query.sort === 'HEIGHT_ASC';
      if (query.ids) {
        if (query.ids.length === 0) return { rows: [], hasNextPage: false };
        where.push(`id IN (${query.ids.map(() => '?').join(',')})`);
        params.push(...query.ids);
      }
      const add = (clause: string, value: number | undefined) => {
        if (value === undefined) return;
        where.push(clause);
        params.push(value);
      };
      add('height >= ?', query.min);
      add('height <= ?', query.max);
      add(asc ? 'height > ?' : 'height < ?', query.after);
      const sql = `SELECT height, id, timestamp, previous FROM blocks ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY height ${asc ? 'ASC' : 'DESC'} LIMIT ?`;
      const rows = statement(sql).all(...params, query.first + 1) as BlockRow[];
      const hasNextPage = rows.length > query.first;
      return { rows: hasNextPage ? rows.slice(0, query.first) : rows, hasNextPage };
    },
    /** The raw bytes of an item still in the pending area. */
    pendingRaw(seq: number): Uint8Array | undefined {
      return (pendingRaw.get(seq) as { raw: Uint8Array } | undefined)?.raw;
    },
    /** `length` bytes at `offset` of a pending item's raw bytes (a nested item inside it). */
    pendingSlice(seq: number, offset: number, length: number): Uint8Array | undefined {
      return (pendingSlice.get(offset + 1, length, seq) as { raw: Uint8Array } | undefined)?.raw;
    },
    /** The oldest pending items, up to `maxBytes` in all (always at least one when any wait). */
    pendingBatch(maxBytes: number): PendingItem[] {
      const batch: PendingItem[] = [];
      let bytes = 0;
      for (const row of pendingScan.iterate() as Iterable<PendingItem>) {
        if (batch.length > 0 && bytes + row.raw.length > maxBytes) break;
        batch.push({ seq: row.seq, raw: row.raw });
        bytes += row.raw.length;
      }
      return batch;
    },
    pendingStats(): { items: number; bytes: number } {
      const row = pendingStats.get() as { n: number; bytes: number };
      return { items: row.n, bytes: row.bytes };
    },
    bundle(ref: number): BundleRow | undefined {
      return bundleByRef.get(ref) as BundleRow | undefined;
    },
    counts(): { items: number; blocks: number; bundles: number } {
      return counts.get() as { items: number; blocks: number; bundles: number };
    },
    async close(): Promise<void> {
      await writer.close();
      statements.clear();
      db.close();
    },
  };
}

/** The writer thread and its request/reply bookkeeping. */
function storeWriter(path: string) {
  const worker = new Worker(new URL('./store-writer-worker.ts', import.meta.url), { workerData: { path } });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let failure: LevityError | undefined;
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const failAll = (error: LevityError) => {
    failure ??= error;
    for (const entry of waiting.values()) entry.reject(error);
    waiting.clear();
  };
  worker.on('message', (reply: WriteReply) => {
    const entry = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (waiting.size === 0) worker.unref(); // idle: never the reason a process stays up
    if (!entry) return;
    if (reply.error) entry.reject(new LevityError('GATEWAY_STORE_FAILED', `the gateway index could not be written: ${reply.error.message}`, { meta: { cause: reply.error.code } }));
    else entry.resolve(reply.result);
  });
  worker.on('error', (error) => failAll(new LevityError('GATEWAY_STORE_FAILED', `the gateway index writer failed: ${error.message}`, { cause: error })));
  void exited.then(() => failAll(new LevityError('GATEWAY_STORE_CLOSED', 'the gateway index is closed')));
  worker.unref();

  return {
    call<T>(request: DistributiveOmit<WriteRequest, 'id'>): Promise<T> {
      if (failure) return Promise.reject(failure);
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
        worker.ref();
        worker.postMessage({ ...request, id });
      });
    },
    async close(): Promise<void> {
      if (!failure) await this.call({ op: 'close' }).catch(() => undefined);
      worker.ref(); // until it has exited, or a process ending right now would never see it go
      await exited;
    },
  };
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type GatewayStore = ReturnType<typeof sqliteGatewayStore>;
