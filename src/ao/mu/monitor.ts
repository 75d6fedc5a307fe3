/**
 * Cron monitoring (spec ao.md §3.1, §4.3): for each monitored process the MU asks the CU to run
 * its crons up to now (`GET /cron/:pid`) and pushes each cron evaluation's outbox. The set of
 * processes and each one's cursor live in SQLite, and a page's pushes are queued before its cursor
 * moves, so a restart resumes where it stopped and never skips a cron's output.
 */
import { errorMessage } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { openSqlite } from '../../shared/sqlite.ts';
import type { NewJob } from './crank-queue.ts';
import { crankKeys, outboxSize, readOutbox } from './crank.ts';
import type { CrankJob } from './crank.ts';
import type { CuClient } from '../unit-clients.ts';

export type MonitorOptions = {
  /** The SQLite file (it may be shared with the crank queue). */
  path: string;
  cu: CuClient;
  log: Logger;
  /** Queues crank jobs durably (and wakes the workers). */
  enqueue(jobs: NewJob<CrankJob>[]): void;
  /** How often each process is polled; the reference MU waits 10 s. */
  pollMs?: number;
  pageSize?: number;
};

type Row = { process_id: string; cursor: string | null; initialized: number };

export function sqliteMonitorStore(path: string) {
  const db = openSqlite(path);
  db.exec(`
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS monitors (
      process_id TEXT PRIMARY KEY, cursor TEXT, initialized INTEGER NOT NULL DEFAULT 0, added_at INTEGER NOT NULL);
  `);
  const insert = db.prepare('INSERT OR IGNORE INTO monitors (process_id, added_at) VALUES (?, ?)');
  const remove = db.prepare('DELETE FROM monitors WHERE process_id = ?');
  const get = db.prepare('SELECT process_id, cursor, initialized FROM monitors WHERE process_id = ?');
  const all = db.prepare('SELECT process_id FROM monitors ORDER BY added_at, process_id');
  // UPDATE, not upsert: a poll that finishes after an unmonitor must not bring the process back.
  const setCursor = db.prepare('UPDATE monitors SET cursor = ?, initialized = 1 WHERE process_id = ?');
  return {
    add: (processId: string) => Number(insert.run(processId, Date.now()).changes) > 0,
    remove: (processId: string) => Number(remove.run(processId).changes) > 0,
    get(processId: string): { cursor: string | undefined; initialized: boolean } | undefined {
      const row = get.get(processId) as Row | undefined;
      return row && { cursor: row.cursor ?? undefined, initialized: row.initialized === 1 };
    },
    list: () => (all.all() as { process_id: string }[]).map((row) => row.process_id),
    setCursor: (processId: string, cursor: string | undefined) => void setCursor.run(cursor ?? null, processId),
    close: () => db.close(),
  };
}

export type MonitorStore = ReturnType<typeof sqliteMonitorStore>;

export function createMonitor(options: MonitorOptions) {
  const { cu, log } = options;
  const pollMs = options.pollMs ?? 10_000;
  const pageSize = options.pageSize ?? 50;
  const store = sqliteMonitorStore(options.path);
  const inFlight = new Map<string, Promise<void>>();
  const failing = new Set<string>();
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  /** One poll of one process: every new cron evaluation, page by page, queued before the cursor moves. */
  const poll = async (processId: string) => {
    const signal = abort.signal;
    let state = store.get(processId);
    if (!state) return;
    if (!state.initialized) {
      const latest = await cu.latestResults(processId, 1, signal);
      store.setCursor(processId, latest.edges[0]?.cursor);
      state = store.get(processId);
      if (!state) return;
    }
    let cursor = state.cursor;
    for (;;) {
      const page = await cu.cron(processId, cursor, pageSize, signal);
      if (page.edges.length === 0) return;
      const jobs: NewJob<CrankJob>[] = [];
      for (const edge of page.edges) {
        if (edge.node.Error !== undefined && edge.node.Error !== null) continue;
        const { outbox, skipped } = readOutbox(edge.node);
        if (skipped.length > 0) log.warn({ processId, cursor: edge.cursor, skipped }, 'cron outbox entries skipped');
        if (outboxSize(outbox) === 0) continue;
        jobs.push({
          key: crankKeys.cron(processId, edge.cursor),
          payload: { kind: 'outbox', processId, sourceId: `cron:${edge.cursor}`, outbox },
        });
      }
      if (jobs.length > 0) options.enqueue(jobs);
      cursor = page.edges[page.edges.length - 1]!.cursor;
      if (!store.get(processId)) return; // unmonitored meanwhile
      store.setCursor(processId, cursor);
      if (page.edges.length < pageSize && page.pageInfo?.hasNextPage !== true) return;
    }
  };

  const pollNow = (processId: string): Promise<void> => {
    const current = inFlight.get(processId);
    if (current) return current;
    const run = poll(processId)
      .then(() => {
        if (failing.delete(processId)) log.info({ processId }, 'cron polling recovered');
      })
      .catch((error: unknown) => {
        if (abort.signal.aborted) return;
        // One warning per failure streak: a CU that is down for a while must not flood the log.
        if (!failing.has(processId)) log.warn({ processId, reason: errorMessage(error) }, 'cron poll failed');
        failing.add(processId);
      })
      .finally(() => inFlight.delete(processId));
    inFlight.set(processId, run);
    return run;
  };

  const tick = () => {
    for (const processId of store.list()) void pollNow(processId);
  };

  return {
    /** Starts monitoring; false when it already was. Persisted before it returns. */
    add(processId: string): boolean {
      const added = store.add(processId);
      if (added && running) void pollNow(processId);
      return added;
    },
    /** Stops monitoring; false when it was not monitored. */
    remove(processId: string): boolean {
      failing.delete(processId);
      return store.remove(processId);
    },
    has: (processId: string) => store.get(processId) !== undefined,
    list: () => store.list(),
    /** Polls one process now (tests, and `add` while running); resolves when its poll settles. */
    pollNow,
    start(): void {
      running = true;
      timer = setInterval(tick, pollMs);
      tick();
    },
    async stop(): Promise<void> {
      running = false;
      clearInterval(timer);
      abort.abort();
      await Promise.allSettled([...inFlight.values()]);
      store.close();
    },
  };
}

export type Monitor = ReturnType<typeof createMonitor>;
