/**
 * The MU's durable crank queue: every accepted item's crank is on disk before the MU answers,
 * so a crash, a CU that is still evaluating or an SU outage delays pushes but never loses them
 * (the reference MU loses them: permaweb/ao#773). SQLite in WAL mode with synchronous=FULL.
 *
 * A job has a unique key (so the same crank is queued once, however often it is asked for) and
 * a progress counter, so a job with several steps (the messages of one outbox, pushed in order)
 * resumes after its last finished step instead of starting over.
 */
import { errorMessage } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import { inTransaction, openSqlite } from '../../shared/sqlite.ts';

export type RetryPolicy = {
  /** Delay before the first retry; it doubles per attempt up to maxMs. */
  baseMs: number;
  maxMs: number;
  /** After this many failed attempts the job is dead (kept, and revivable by a manual push). */
  maxAttempts: number;
};

export const defaultRetryPolicy: RetryPolicy = { baseMs: 500, maxMs: 30_000, maxAttempts: 30 };

export type NewJob<P> = { key: string; payload: P; delayMs?: number };

export type ClaimedJob<P> = { id: number; key: string; payload: P; attempts: number; progress: number };

export type JobState = 'pending' | 'running' | 'done' | 'dead';

export type CrankQueueOptions = { path: string; retry?: Partial<RetryPolicy>; now?: () => number };

type Row = { id: number; key: string; payload: string; attempts: number; progress: number };

export function createCrankQueue<P>(options: CrankQueueOptions) {
  const retry = { ...defaultRetryPolicy, ...options.retry };
  const now = options.now ?? Date.now;
  const db = openSqlite(options.path);
  db.exec(`
    PRAGMA busy_timeout = 5000;
    CREATE TABLE IF NOT EXISTS crank_jobs (
      id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, payload TEXT NOT NULL,
      state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, progress INTEGER NOT NULL DEFAULT 0,
      run_at INTEGER NOT NULL, last_error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
    CREATE INDEX IF NOT EXISTS crank_jobs_due ON crank_jobs (state, run_at, id);
  `);
  // Jobs that were running when the process died were not finished: run them again.
  db.prepare("UPDATE crank_jobs SET state = 'pending' WHERE state = 'running'").run();

  const insert = db.prepare(
    "INSERT OR IGNORE INTO crank_jobs (key, payload, state, run_at, created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?)",
  );
  const nextDue = db.prepare("SELECT id, key, payload, attempts, progress FROM crank_jobs WHERE state = 'pending' AND run_at <= ? ORDER BY run_at, id LIMIT 1");
  const markRunning = db.prepare("UPDATE crank_jobs SET state = 'running', attempts = attempts + 1, updated_at = ? WHERE id = ?");
  const setProgress = db.prepare('UPDATE crank_jobs SET progress = ?, updated_at = ? WHERE id = ?');
  const markDone = db.prepare("UPDATE crank_jobs SET state = 'done', payload = 'null', last_error = NULL, updated_at = ? WHERE id = ?");
  const reschedule = db.prepare("UPDATE crank_jobs SET state = 'pending', run_at = ?, last_error = ?, updated_at = ? WHERE id = ?");
  const markDead = db.prepare("UPDATE crank_jobs SET state = 'dead', last_error = ?, updated_at = ? WHERE id = ?");
  const unclaim = db.prepare("UPDATE crank_jobs SET state = 'pending', attempts = MAX(attempts - 1, 0), run_at = ?, updated_at = ? WHERE id = ? AND state = 'running'");
  const attemptsOf = db.prepare('SELECT attempts FROM crank_jobs WHERE id = ?');
  const earliest = db.prepare("SELECT MIN(run_at) AS at FROM crank_jobs WHERE state = 'pending'");
  const countStates = db.prepare('SELECT state, COUNT(*) AS n FROM crank_jobs GROUP BY state');
  const byKey = db.prepare('SELECT state, attempts, progress, last_error FROM crank_jobs WHERE key = ?');
  const revive = db.prepare("UPDATE crank_jobs SET state = 'pending', attempts = 0, run_at = ?, updated_at = ? WHERE key = ? AND state = 'dead'");

  const transaction = <T>(work: () => T): T => inTransaction(db, work);

  const insertAll = (jobs: readonly NewJob<P>[]): number => {
    const at = now();
    let added = 0;
    for (const job of jobs) {
      const result = insert.run(job.key, JSON.stringify(job.payload), at + (job.delayMs ?? 0), at, at);
      added += Number(result.changes);
    }
    return added;
  };

  return {
    retry,
    /** Queues jobs whose keys are new; returns how many were added (a known key is a no-op). */
    push(...jobs: NewJob<P>[]): number {
      return transaction(() => insertAll(jobs));
    },
    /** The oldest due job, now marked running (and its attempt counted). */
    claim(): ClaimedJob<P> | undefined {
      return transaction(() => {
        const row = nextDue.get(now()) as Row | undefined;
        if (!row) return undefined;
        markRunning.run(now(), row.id);
        return { id: row.id, key: row.key, payload: JSON.parse(row.payload) as P, attempts: row.attempts + 1, progress: row.progress };
      });
    },
    /** Records a finished step and the jobs it caused, together: a crash redoes at most one step. */
    advance(id: number, progress: number, followUps: readonly NewJob<P>[] = []): void {
      transaction(() => {
        setProgress.run(progress, now(), id);
        insertAll(followUps);
      });
    },
    complete(id: number, followUps: readonly NewJob<P>[] = []): void {
      transaction(() => {
        markDone.run(now(), id);
        insertAll(followUps);
      });
    },
    /** A failed attempt: retried after a backoff, or dead when permanent or out of attempts. */
    fail(id: number, error: unknown, permanent = false): 'retry' | 'dead' {
      const reason = errorMessage(error).slice(0, 1000);
      const row = attemptsOf.get(id) as { attempts: number } | undefined;
      const attempts = row?.attempts ?? retry.maxAttempts;
      if (permanent || attempts >= retry.maxAttempts) {
        markDead.run(reason, now(), id);
        return 'dead';
      }
      const delay = Math.min(retry.maxMs, retry.baseMs * 2 ** Math.max(0, attempts - 1));
      reschedule.run(now() + delay, reason, now(), id);
      return 'retry';
    },
    /** Gives a claimed job back untouched (the worker is stopping): the attempt does not count. */
    release(id: number): void {
      unclaim.run(now(), now(), id);
    },
    /** Makes a dead job pending again with fresh attempts; false when the key is not dead. */
    revive(key: string): boolean {
      return Number(revive.run(now(), now(), key).changes) > 0;
    },
    /** When the next pending job is due (ms since epoch), if any. */
    nextDueAt(): number | undefined {
      const row = earliest.get() as { at: number | null };
      return row.at ?? undefined;
    },
    state(key: string): { state: JobState; attempts: number; progress: number; lastError: string | null } | undefined {
      const row = byKey.get(key) as { state: JobState; attempts: number; progress: number; last_error: string | null } | undefined;
      return row && { state: row.state, attempts: row.attempts, progress: row.progress, lastError: row.last_error };
    },
    counts(): Record<JobState, number> {
      const counts: Record<JobState, number> = { pending: 0, running: 0, done: 0, dead: 0 };
      for (const row of countStates.all() as { state: JobState; n: number }[]) counts[row.state] = row.n;
      return counts;
    },
    close(): void {
      db.close();
    },
  };
}

export type CrankQueue<P> = ReturnType<typeof createCrankQueue<P>>;

export type JobContext<P> = {
  signal: AbortSignal;
  /** Durably records that steps before `progress` are done, with the jobs they caused. */
  advance(progress: number, followUps?: readonly NewJob<P>[]): void;
};

export type CrankWorkersOptions<P> = {
  queue: CrankQueue<P>;
  /** Runs one job; resolves with the jobs it caused (queued in the same commit as its completion). */
  handle(job: ClaimedJob<P>, context: JobContext<P>): Promise<readonly NewJob<P>[] | void>;
  /** Errors that retrying cannot fix (the job goes dead at once). */
  isPermanent?(error: unknown): boolean;
  concurrency?: number;
  log: Logger;
  /** How long stop() lets running jobs finish before abandoning them (they stay queued). */
  stopGraceMs?: number;
  onSettled?(outcome: 'done' | 'retry' | 'dead', job: ClaimedJob<P>, error?: unknown): void;
};

/** A small pool of workers draining the queue; `wake()` after a push to skip the idle wait. */
export function createCrankWorkers<P>(options: CrankWorkersOptions<P>) {
  const { queue, log } = options;
  const concurrency = options.concurrency ?? 8;
  const abort = new AbortController();
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  const sleepers = new Set<() => void>();
  const loops: Promise<void>[] = [];

  const wakeAll = () => {
    for (const wake of [...sleepers]) wake();
  };
  const sleep = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        sleepers.delete(done);
        resolve();
      };
      sleepers.add(done);
      armTimer();
    });
  // One timer for the next due job (a retry's backoff), so idle workers need no polling.
  const armTimer = () => {
    if (stopping) return;
    const due = queue.nextDueAt();
    if (due === undefined || due >= timerAt) return;
    clearTimeout(timer);
    timerAt = due;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      wakeAll();
    }, Math.max(0, due - Date.now()) + 5);
    timer.unref();
  };

  const runOne = async (job: ClaimedJob<P>) => {
    const context: JobContext<P> = {
      signal: abort.signal,
      advance: (progress, followUps) => {
        queue.advance(job.id, progress, followUps);
        if (followUps?.length) wakeAll();
      },
    };
    try {
      const followUps = (await options.handle(job, context)) ?? [];
      queue.complete(job.id, followUps);
      options.onSettled?.('done', job);
      if (followUps.length) wakeAll();
    } catch (error) {
      if (stopping) {
        queue.release(job.id);
        return;
      }
      const outcome = queue.fail(job.id, error, options.isPermanent?.(error) ?? false);
      options.onSettled?.(outcome, job, error);
      const fields = { key: job.key, attempt: job.attempts, reason: errorMessage(error) };
      if (outcome === 'dead') log.warn(fields, 'crank job dead');
      else log.debug(fields, 'crank job will retry');
      armTimer();
    }
  };

  const loop = async () => {
    while (!stopping) {
      let job: ClaimedJob<P> | undefined;
      try {
        job = queue.claim();
      } catch (error) {
        if (stopping) return;
        log.error({ err: error }, 'crank queue unreadable');
      }
      if (!job) {
        await sleep();
        continue;
      }
      await runOne(job).catch((error: unknown) => {
        // Only reachable when the queue itself failed (e.g. closed under us during a stop).
        if (!stopping) log.error({ err: error, key: job.key }, 'crank bookkeeping failed');
      });
    }
  };

  return {
    start(): void {
      for (let i = 0; i < concurrency; i++) loops.push(loop());
    },
    wake: wakeAll,
    async stop(): Promise<void> {
      stopping = true;
      clearTimeout(timer);
      wakeAll();
      const settled = Promise.allSettled(loops);
      const grace = options.stopGraceMs ?? 5_000;
      let graceTimer: NodeJS.Timeout | undefined;
      const expired = new Promise<'expired'>((resolve) => {
        graceTimer = setTimeout(() => resolve('expired'), grace);
      });
      if ((await Promise.race([settled, expired])) === 'expired') {
        // Abandon what is still running: aborted fetches end, the jobs stay queued for next start.
        abort.abort();
        await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      }
      clearTimeout(graceTimer);
    },
  };
}

export type CrankWorkers = ReturnType<typeof createCrankWorkers>;
