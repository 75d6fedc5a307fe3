import { LevityError } from '../protocol/errors.ts';
import { paramsArray } from './eip1193.ts';
import type { Eip1193Provider, RequestArguments } from './eip1193.ts';
import type { Journal, JournalRecord } from './journal.ts';
import { isReadOnlyMethod, refusedWrite } from './read-only-methods.ts';

type BlockHeader = { number: string; timestamp: string };

export type DurableProvider = Eip1193Provider & {
  /** Writes accepted since the process started (not counting replayed ones). */
  readonly writes: () => number;
};

/**
 * Wraps an in-memory EVM so that every accepted write is journaled (and flushed) before it is
 * acknowledged. Writes run one at a time so the journal order is the execution order; reads
 * go straight through.
 */
export function durableProvider(inner: Eip1193Provider, journal: Journal): DurableProvider {
  let queue: Promise<unknown> = Promise.resolve();
  let writes = 0;

  async function write(method: string, params: unknown[]): Promise<unknown> {
    const before = await latestHeader(inner);
    let result: unknown;
    let failure: { error: unknown } | undefined;
    try {
      result = await inner.request({ method, params });
    } catch (error) {
      failure = { error };
    }
    const after = await latestHeader(inner);
    const mined = Number(after.number) > Number(before.number);
    // A failed request that mined nothing changed nothing: no need to replay it.
    if (!failure || mined) {
      const record: JournalRecord = { method, params };
      if (mined) record.blockTimestamp = Number((await headerAt(inner, Number(before.number) + 1)).timestamp);
      await journal.append(record);
      writes += 1;
    }
    if (failure) throw failure.error;
    return result;
  }

  return {
    writes: () => writes,
    request(args: RequestArguments) {
      const params = paramsArray(args.params);
      if (isReadOnlyMethod(args.method)) return inner.request({ method: args.method, params });
      const refusal = refusedWrite(args.method, params);
      if (refusal) return Promise.reject(rpcError(-32601, refusal));
      const run = queue.then(() => write(args.method, params));
      queue = run.catch(() => undefined);
      return run;
    },
  };
}

/**
 * Re-executes journaled writes on a fresh EVM built from the same genesis. Each record that
 * mined blocks gets its original timestamp back, so blocks and hashes come out identical.
 */
export async function replayJournal(inner: Eip1193Provider, records: readonly JournalRecord[]): Promise<void> {
  for (const [index, record] of records.entries()) {
    if (record.blockTimestamp !== undefined) {
      await inner.request({ method: 'evm_setNextBlockTimestamp', params: [record.blockTimestamp] });
    }
    try {
      await inner.request({ method: record.method, params: record.params });
    } catch (error) {
      // Requests that failed the first time fail the same way now (a reverted tx still mines).
      if (record.blockTimestamp === undefined) {
        throw new LevityError('CHAIN_REPLAY_DIVERGED', `journal record ${index} (${record.method}) failed on replay`, {
          cause: error,
          meta: { index, method: record.method },
        });
      }
    }
  }
}

/**
 * Moves the chain clock up to the wall clock after a replay, so new blocks carry current
 * timestamps. Not journaled: replays pin every mined block's timestamp anyway.
 */
export async function catchUpClock(inner: Eip1193Provider, nowSeconds: number): Promise<void> {
  // The EVM's clock offset was left wherever the last pinned timestamp put it; shifting it by
  // the gap to now brings the next block's timestamp back to the wall clock.
  const latest = Number((await latestHeader(inner)).timestamp);
  if (nowSeconds > latest) await inner.request({ method: 'evm_increaseTime', params: [nowSeconds - latest] });
}

async function latestHeader(provider: Eip1193Provider): Promise<BlockHeader> {
  return (await provider.request({ method: 'eth_getBlockByNumber', params: ['latest', false] })) as BlockHeader;
}

async function headerAt(provider: Eip1193Provider, number: number): Promise<BlockHeader> {
  return (await provider.request({
    method: 'eth_getBlockByNumber',
    params: [`0x${number.toString(16)}`, false],
  })) as BlockHeader;
}

function rpcError(code: number, message: string): Error & { code: number } {
  return Object.assign(new Error(message), { code });
}
