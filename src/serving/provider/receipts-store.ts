/**
 * The provider's durable billing state: per user the latest receipt it accepted (the authorisation
 * it settles with), what the user has spent (exact metered usage) and what the chain has paid; per
 * request one row. A served request is one commit (its receipt, its usage and its row together),
 * which survives kill -9 and power loss (FULL durability), so a restarted provider settles exactly
 * what it served. That commit's WAL sync runs off the event loop (wal-sync.ts): the caller waits for
 * `sync()` before it reports the request served, and does other work meanwhile; every other write
 * is durable when it returns, as under synchronous FULL. Amounts are uint256, so they are stored as
 * decimal TEXT, never as SQLite integers (which stop at 2^63). The store is its file's only writer,
 * so reads come from a copy in memory kept in step with every commit: the billing checks read a
 * user's row several times per request.
 */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { Address, Hex } from 'viem';
import { ConflictError, InvalidInputError } from '../../protocol/errors.ts';
import type { Receipt } from '../../protocol/serving/receipt.ts';
import { inTransaction, openSqlite } from '../../shared/sqlite.ts';
import { createWalSync } from './wal-sync.ts';

export type UserBilling = {
  user: Address;
  /** The nonce of the latest accepted receipt; undefined before the first. */
  lastNonce: bigint | undefined;
  /** The latest accepted receipt and its signature: what settlement submits. */
  receipt: { cumulativeAmount: bigint; nonce: bigint; signature: Hex } | undefined;
  /** Wei of metered usage served so far. */
  spent: bigint;
  /** Wei the ledger has paid this provider for the user, as last read from the chain. */
  settled: bigint;
};

export type AcceptedReceipt = { user: Address; nonce: bigint; cumulativeAmount: bigint; signature: Hex };

export type UsageRecord = {
  id: string;
  user: Address;
  nonce: bigint;
  promptTokens: number;
  completionTokens: number;
  cost: bigint;
};

export type RequestRow = UsageRecord & { createdMs: number };

/** A served request's usage; its user and nonce are its receipt's. */
export type ServedUsage = Omit<UsageRecord, 'user' | 'nonce'>;

export type ReceiptsStore = {
  billing(user: Address): UserBilling;
  /** Users whose spent is above what the chain has paid, for settlement. */
  unsettled(): UserBilling[];
  /**
   * Makes `receipt` the user's latest authorisation, durably, before the request is served.
   * Throws ConflictError SERVING_NONCE_REPLAYED unless its nonce is above the last accepted one
   * (checked again here so that no interleaving can store an older receipt over a newer one).
   */
  acceptReceipt(receipt: AcceptedReceipt): void;
  /** Adds a served request's cost to the user's spent and stores its row, in one transaction; returns spent after. */
  recordUsage(usage: UsageRecord): bigint;
  /**
   * A request's one commit: its receipt becomes the user's latest authorisation unless a newer one
   * is already stored (requests of one user may finish out of order), and, when it was served, its
   * usage is added to spent with its row. Returns spent after. Durable once `sync()` resolves.
   */
  recordRequest(receipt: AcceptedReceipt, usage?: ServedUsage): bigint;
  /** Resolves once every commit so far is on disk; rejects (SERVING_STORE_SYNC_FAILED) if that failed. */
  sync(): Promise<void>;
  /** Stores what the chain reports as settled (never lowered: the chain's total only grows). */
  setSettled(user: Address, settled: bigint): void;
  requests(user: Address): RequestRow[];
  stats(): { users: number; requests: number };
  close(): void;
};

export type ReceiptsStoreOptions = { path: string; now?: () => number };

type UserRow = {
  user: string;
  last_nonce: string | null;
  cumulative: string | null;
  signature: string | null;
  spent: string;
  settled: string;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  user TEXT PRIMARY KEY,
  last_nonce TEXT,
  cumulative TEXT,
  signature TEXT,
  spent TEXT NOT NULL DEFAULT '0',
  settled TEXT NOT NULL DEFAULT '0',
  updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  nonce TEXT NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  cost TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_user ON requests (user, created_ms);
`;

export function openReceiptsStore(options: ReceiptsStoreOptions): ReceiptsStore {
  // NORMAL plus a WAL sync after every commit is FULL (see wal-sync.ts): a receipt is the only proof
  // the provider may be paid; losing it loses the money.
  const db: DatabaseSync = openSqlite(options.path, { synchronous: 'NORMAL' });
  db.exec(SCHEMA);
  const wal = createWalSync(options.path);
  const now = options.now ?? Date.now;
  const statements = {
    user: db.prepare('SELECT user, last_nonce, cumulative, signature, spent, settled FROM users WHERE user = ?'),
    // Amounts are compared as numbers in JS: TEXT decimals do not order numerically in SQL.
    all: db.prepare('SELECT user, last_nonce, cumulative, signature, spent, settled FROM users ORDER BY user'),
    // The whole row at once, from the copy in memory: one statement per commit however much changed.
    save: db.prepare(
      `INSERT INTO users (user, last_nonce, cumulative, signature, spent, settled, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user) DO UPDATE SET last_nonce = excluded.last_nonce, cumulative = excluded.cumulative,
         signature = excluded.signature, spent = excluded.spent, settled = excluded.settled, updated_ms = excluded.updated_ms`,
    ),
    insertRequest: db.prepare(
      'INSERT INTO requests (id, user, nonce, prompt_tokens, completion_tokens, cost, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    requests: db.prepare(
      'SELECT id, user, nonce, prompt_tokens, completion_tokens, cost, created_ms FROM requests WHERE user = ? ORDER BY created_ms, rowid',
    ),
    counts: db.prepare('SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM requests) AS requests'),
  } satisfies Record<string, StatementSync>;

  const cache = new Map<Address, UserBilling>();
  const read = (user: Address): UserBilling => {
    const cached = cache.get(user);
    if (cached) return cached;
    const row = statements.user.get(user) as UserRow | undefined;
    const billing = row ? fromRow(row) : { user, lastNonce: undefined, receipt: undefined, spent: 0n, settled: 0n };
    cache.set(user, billing);
    return billing;
  };
  /**
   * Runs `work` in a transaction and saves the row it returns; the copy in memory takes it only once
   * it committed. `work` hands back the row it read when nothing changed: then nothing is written.
   */
  const commit = <T>(work: () => { result: T; changed: UserBilling }): T => {
    const { result, changed } = inTransaction(db, () => {
      const outcome = work();
      const { changed: row } = outcome;
      if (cache.get(row.user) !== row) {
        statements.save.run(
          row.user,
          row.lastNonce?.toString() ?? null,
          row.receipt?.cumulativeAmount.toString() ?? null,
          row.receipt?.signature ?? null,
          row.spent.toString(),
          row.settled.toString(),
          now(),
        );
      }
      return outcome;
    });
    if (cache.get(changed.user) !== changed) {
      wal.committed();
      cache.set(changed.user, changed);
    }
    return result;
  };
  /** A commit its caller expects durable on return. */
  const commitNow = <T>(work: () => { result: T; changed: UserBilling }): T => {
    const result = commit(work);
    wal.syncNow();
    return result;
  };
  const accept = (current: UserBilling, receipt: AcceptedReceipt): UserBilling => {
    const { nonce, cumulativeAmount, signature } = receipt;
    return { ...current, lastNonce: nonce, receipt: { nonce, cumulativeAmount, signature } };
  };
  const spend = (current: UserBilling, usage: UsageRecord): UserBilling => {
    if (usage.cost < 0n) throw new InvalidInputError('SERVING_COST_INVALID', 'a cost is never negative', { meta: { cost: usage.cost.toString() } });
    statements.insertRequest.run(usage.id, usage.user, usage.nonce.toString(), usage.promptTokens, usage.completionTokens, usage.cost.toString(), now());
    return { ...current, spent: current.spent + usage.cost };
  };

  let closed = false;
  return {
    billing: read,
    unsettled() {
      return (statements.all.all() as UserRow[]).map(fromRow).filter((b) => b.spent > b.settled && b.receipt !== undefined);
    },
    acceptReceipt(receipt) {
      commitNow(() => {
        const current = read(receipt.user);
        if (current.lastNonce !== undefined && receipt.nonce <= current.lastNonce) {
          throw nonceReplayed(receipt.user, receipt.nonce, current.lastNonce);
        }
        return { result: undefined, changed: accept(current, receipt) };
      });
    },
    recordUsage(usage) {
      return commitNow(() => {
        const changed = spend(read(usage.user), usage);
        return { result: changed.spent, changed };
      });
    },
    recordRequest(receipt, usage) {
      return commit(() => {
        let changed = read(receipt.user);
        if (changed.lastNonce === undefined || receipt.nonce > changed.lastNonce) changed = accept(changed, receipt);
        if (usage) changed = spend(changed, { ...usage, user: receipt.user, nonce: receipt.nonce });
        return { result: changed.spent, changed };
      });
    },
    sync: () => wal.sync(),
    setSettled(user, settled) {
      commitNow(() => {
        const current = read(user);
        return { result: undefined, changed: settled <= current.settled ? current : { ...current, settled } };
      });
    },
    requests(user) {
      return (statements.requests.all(user) as Array<Record<string, string | number>>).map((row) => ({
        id: String(row.id),
        user: String(row.user) as Address,
        nonce: BigInt(String(row.nonce)),
        promptTokens: Number(row.prompt_tokens),
        completionTokens: Number(row.completion_tokens),
        cost: BigInt(String(row.cost)),
        createdMs: Number(row.created_ms),
      }));
    },
    stats() {
      const row = statements.counts.get() as { users: number; requests: number };
      return { users: Number(row.users), requests: Number(row.requests) };
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        wal.syncNow();
      } finally {
        wal.close();
        db.close();
      }
    },
  };
}

/** The receipt settlement submits for a user, or undefined before the first accepted one. */
export function latestReceipt(billing: UserBilling, provider: Address): { receipt: Receipt; signature: Hex } | undefined {
  if (!billing.receipt) return undefined;
  return {
    receipt: { user: billing.user, provider, cumulativeAmount: billing.receipt.cumulativeAmount, nonce: billing.receipt.nonce },
    signature: billing.receipt.signature,
  };
}

export function nonceReplayed(user: Address, nonce: bigint, lastNonce: bigint): ConflictError {
  return new ConflictError('SERVING_NONCE_REPLAYED', `Nonce ${nonce} is not above the last accepted nonce ${lastNonce}`, {
    details: 'every request needs a receipt with a nonce above the last one this provider accepted (see GET /v1/billing/:user)',
    meta: { user, nonce: nonce.toString(), lastNonce: lastNonce.toString() },
  });
}

function fromRow(row: UserRow): UserBilling {
  const receipt =
    row.last_nonce !== null && row.cumulative !== null && row.signature !== null
      ? { nonce: BigInt(row.last_nonce), cumulativeAmount: BigInt(row.cumulative), signature: row.signature as Hex }
      : undefined;
  return {
    user: row.user as Address,
    lastNonce: row.last_nonce === null ? undefined : BigInt(row.last_nonce),
    receipt,
    spent: BigInt(row.spent),
    settled: BigInt(row.settled),
  };
}
