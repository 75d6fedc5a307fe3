import { LevityError, NotFoundError } from '../../protocol/errors.ts';
import { decodeResultCursor, encodeResultCursor } from '../../protocol/ao/index.ts';
import type { AoMessage, EvalResult } from '../../protocol/ao/types.ts';
import type { Logger } from '../../shared/log.ts';
import { slotPosition } from './ao-message.ts';
import type { CuStore, StoredEvaluation } from './cu-store.ts';
import type { ModuleLoader } from './module-loader.ts';
import { createProcessRunner } from './process-runner.ts';
import type { CuLimits, ProcessRunner } from './process-runner.ts';
import type { GatewayBlocksClient, SuClient } from '../unit-clients.ts';

export type CuServiceDeps = {
  su: SuClient;
  modules: ModuleLoader;
  store: CuStore;
  checkpointDir: string;
  limits: CuLimits;
  log: Logger;
  /** Live VMs kept in memory; the least recently used one is checkpointed and freed past this. */
  maxLiveProcesses?: number;
  /** How long `/result` waits for an evaluation before answering with an error. */
  resultTimeoutMs?: number;
  checkpointEvery?: number;
  /** Reads the item an `On-Boot=<id>` tag names (see ProcessRunnerDeps.itemData). */
  itemData?: (id: string) => Promise<Uint8Array | undefined>;
  /** Block heights and timestamps for `N-blocks` crons (see ProcessRunnerDeps.blocks). */
  blocks?: Pick<GatewayBlocksClient, 'blocksAt'>;
};

export type ResultsPage = {
  pageInfo: { hasNextPage: boolean };
  edges: { cursor: string; node: EvalResult }[];
};

export type ResultsQuery = { from?: string; to?: string; sort?: 'ASC' | 'DESC'; limit?: number };

const DEFAULT_RESULTS_LIMIT = 25;
const MAX_RESULTS_LIMIT = 1000;

/** The evaluation did not finish in time; it goes on, and a later request finds its result. */
export class EvaluationTimeoutError extends LevityError {
  override name = 'TimeoutError';
}

/**
 * The compute unit's use-cases: results by message, pages of results, dry runs, cron ticks
 * and state, each on a per-process runner kept live in a bounded LRU.
 */
export function createCuService(deps: CuServiceDeps) {
  const { store, su } = deps;
  const maxLive = deps.maxLiveProcesses ?? 64;
  const resultTimeoutMs = deps.resultTimeoutMs ?? 60_000;
  const runners = new Map<string, ProcessRunner>();

  function runner(processId: string): ProcessRunner {
    let found = runners.get(processId);
    if (found) {
      // Re-insert to mark it most recently used.
      runners.delete(processId);
      runners.set(processId, found);
      return found;
    }
    found = createProcessRunner({ ...deps, processId });
    runners.set(processId, found);
    while (runners.size > maxLive) {
      const [oldest, evicted] = runners.entries().next().value as [string, ProcessRunner];
      runners.delete(oldest);
      evicted.close().catch((error: unknown) => deps.log.warn({ processId: oldest, err: error }, 'checkpoint on eviction failed'));
    }
    return found;
  }

  async function withTimeout<T>(work: Promise<T>, what: string, meta: Record<string, unknown>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EvaluationTimeoutError('CU_EVALUATION_TIMEOUT', `${what} did not finish within ${resultTimeoutMs} ms`, {
              details: 'evaluation continues; ask again shortly',
              meta,
            }),
          ),
        resultTimeoutMs,
      );
    });
    try {
      return await Promise.race([work, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  function toEdge(evaluation: StoredEvaluation, sort: 'ASC' | 'DESC') {
    const cursor = encodeResultCursor({
      timestamp: evaluation.timestamp,
      ordinate: String(evaluation.ordinate),
      cron: evaluation.cron ?? undefined,
      sort,
    });
    return { cursor, node: evaluation.result };
  }

  function bound(text: string | undefined): { timestamp: number; ordinate: number } | undefined {
    if (text === undefined || text === '') return undefined;
    const cursor = decodeResultCursor(text);
    // A bare timestamp bounds by time alone.
    const ordinate = cursor.ordinate === undefined || cursor.ordinate === '' ? undefined : Number(cursor.ordinate);
    return { timestamp: cursor.timestamp, ordinate: ordinate ?? -1 };
  }

  return {
    /** The result of one message (or assignment) id, evaluating the process up to it first. */
    async result(processId: string, id: string): Promise<EvalResult> {
      const stored = store.evaluationOf(processId, id);
      if (stored) return stored.result;
      // The process's own id names its slot 0; the SU answers that id with the whole schedule.
      const nonce =
        id === processId
          ? 0
          : slotPosition(
              await su.slot(processId, id).catch((error: unknown) => {
                if (error instanceof NotFoundError) {
                  throw new NotFoundError('CU_MESSAGE_NOT_FOUND', `message ${id} is not scheduled for process ${processId}`, {
                    meta: { processId, message: id },
                  });
                }
                throw error;
              }),
            ).nonce;
      await withTimeout(runner(processId).evaluateTo({ nonce }), `evaluating ${processId} up to ${id}`, { processId, message: id });
      const evaluated = store.evaluationOf(processId, id);
      if (!evaluated) {
        throw new NotFoundError('CU_MESSAGE_NOT_FOUND', `message ${id} has no evaluation in process ${processId}`, {
          meta: { processId, message: id },
        });
      }
      return evaluated.result;
    },

    /** Stored results in cursor order; errored evaluations are left out. Nothing new is evaluated. */
    results(processId: string, query: ResultsQuery): ResultsPage {
      const sort = query.sort ?? 'ASC';
      const limit = Math.min(Math.max(query.limit ?? DEFAULT_RESULTS_LIMIT, 1), MAX_RESULTS_LIMIT);
      const from = bound(query.from);
      const to = bound(query.to);
      // `from` and `to` read along the sort direction.
      const [after, before] = sort === 'ASC' ? [from, to] : [to, from];
      const rows = store.list({ processId, sort, limit: limit + 1, after, before });
      return { pageInfo: { hasNextPage: rows.length > limit }, edges: rows.slice(0, limit).map((row) => toEdge(row, sort)) };
    },

    /** Evaluates to the SU's present (its time and block height), ticking crons, and returns the cron results after `from`. */
    async cron(processId: string, query: { from?: string; to?: string; limit?: number }): Promise<ResultsPage> {
      const now = await su.timestamp(processId);
      await withTimeout(runner(processId).evaluateTo({ latest: true, until: now }), `evaluating ${processId}`, { processId });
      const limit = Math.min(Math.max(query.limit ?? 500, 1), MAX_RESULTS_LIMIT);
      const rows = store.list({ processId, sort: 'ASC', limit: limit + 1, after: bound(query.from), before: bound(query.to), cronOnly: true });
      return { pageInfo: { hasNextPage: rows.length > limit }, edges: rows.slice(0, limit).map((row) => toEdge(row, 'ASC')) };
    },

    async dryRun(processId: string, message: Partial<AoMessage>): Promise<EvalResult> {
      return withTimeout(runner(processId).dryRun(message), `dry-run on ${processId}`, { processId });
    },

    async state(processId: string) {
      return withTimeout(runner(processId).state(), `evaluating ${processId}`, { processId });
    },

    async stop(): Promise<void> {
      const all = [...runners.values()];
      runners.clear();
      await Promise.allSettled(all.map((r) => r.close()));
    },
  };
}

export type CuService = ReturnType<typeof createCuService>;
