/**
 * Settlement: turns what the provider served into wei. Every interval (and once more at stop) each
 * user whose spent is above what the chain has paid gets one `ServingLedger.settle` with the latest
 * receipt and amount = min(spent, signed cap). The amount is the provider's own durable metering,
 * so after a crash it claims what it served and never more; the ledger pays only the part not yet
 * paid, so a settle repeated after a crash (sent, not yet recorded) pays nothing twice.
 */
import { BaseError, ContractFunctionRevertedError } from 'viem';
import type { Account, Address, Chain, Hash, PublicClient, Transport, WalletClient } from 'viem';
import { LevityError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { servingLedgerAbi } from '../../protocol/serving/serving-ledger-abi.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import { latestReceipt } from './receipts-store.ts';
import type { ReceiptsStore } from './receipts-store.ts';

export const DEFAULT_SETTLE_INTERVAL_MS = 30_000;

export type SubAccountView = { balance: bigint; pendingRefund: bigint; unlockAt: bigint; settled: bigint; lastNonce: bigint };

export type SettleOutcome =
  /** A settle transaction went through; `paid` is what the chain paid by it. */
  | 'settled'
  /** The chain had already paid everything the provider can claim: only the local record moved. */
  | 'synced'
  /** The sub-account holds nothing: no transaction (it would pay nothing); retried next round. */
  | 'unfunded'
  /** The chain refused; logged, retried next round. */
  | 'failed';

export type SettleResult = { user: Address; outcome: SettleOutcome; amount: bigint; paid: bigint; settled: bigint; tx?: Hash; error?: LevityError };

export type SettlementOptions = {
  store: ReceiptsStore;
  client: PublicClient;
  wallet: WalletClient<Transport, Chain, Account>;
  ledger: Address;
  log: Logger;
  /** 0 disables the timer: settle only on demand and at stop. */
  intervalMs?: number;
  /** Told every per-user outcome, from timed rounds as well as requested ones (metrics). */
  onResult?: (result: SettleResult) => void;
};

export type Settlement = Startable & {
  /** Settles every user with unpaid usage, after any round already running. */
  settleAll(): Promise<SettleResult[]>;
};

export async function readSubAccount(client: PublicClient, ledger: Address, user: Address, provider: Address): Promise<SubAccountView> {
  const [balance, pendingRefund, unlockAt, settled, lastNonce] = await client.readContract({
    address: ledger,
    abi: servingLedgerAbi,
    functionName: 'subAccount',
    args: [user, provider],
  });
  return { balance, pendingRefund, unlockAt, settled, lastNonce };
}

export function createSettlement(options: SettlementOptions): Settlement {
  const { store, client, wallet, ledger } = options;
  const log = options.log.child({ component: 'settlement' });
  const provider = wallet.account.address;
  const intervalMs = options.intervalMs ?? DEFAULT_SETTLE_INTERVAL_MS;
  // Rounds run one at a time: two settles of the same receipt in flight would waste gas on a revert.
  let queue: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let running = false;

  async function settleUser(user: Address): Promise<SettleResult | undefined> {
    const billing = store.billing(user);
    const latest = latestReceipt(billing, provider);
    if (!latest || billing.spent <= billing.settled) return undefined;
    // Never above what was served, never above what was signed (the receipts' invariant keeps
    // spent within the signed cap; the min keeps a broken invariant from reverting forever).
    const amount = billing.spent < latest.receipt.cumulativeAmount ? billing.spent : latest.receipt.cumulativeAmount;
    const before = await readSubAccount(client, ledger, user, provider);
    store.setSettled(user, before.settled);
    const base = { user, amount };
    if (amount <= before.settled) return { ...base, outcome: 'synced', paid: 0n, settled: before.settled };
    if (before.balance + before.pendingRefund === 0n) {
      log.warn({ user, owed: (amount - before.settled).toString() }, 'user sub-account is empty: nothing to collect');
      return { ...base, outcome: 'unfunded', paid: 0n, settled: before.settled };
    }
    let tx: Hash;
    try {
      tx = await wallet.writeContract({
        address: ledger,
        abi: servingLedgerAbi,
        functionName: 'settle',
        args: [latest.receipt, latest.signature, amount],
        account: wallet.account,
        chain: wallet.chain,
      });
      const receipt = await client.waitForTransactionReceipt({ hash: tx, pollingInterval: 50 });
      if (receipt.status !== 'success') throw new UpstreamError('SERVING_SETTLE_REVERTED', `ServingLedger.settle reverted (tx ${tx})`, { meta: { tx } });
    } catch (cause) {
      const error = settleError(cause);
      const after = await readSubAccount(client, ledger, user, provider);
      store.setSettled(user, after.settled);
      if (error.meta.revert === 'NothingToSettle') return { ...base, outcome: 'synced', paid: 0n, settled: after.settled };
      log.warn({ user, code: error.code, revert: error.meta.revert, err: errorMessage(error) }, 'settlement failed');
      return { ...base, outcome: 'failed', paid: 0n, settled: after.settled, error };
    }
    const after = await readSubAccount(client, ledger, user, provider);
    store.setSettled(user, after.settled);
    const paid = after.settled - before.settled;
    log.info({ user, amount: amount.toString(), paid: paid.toString(), settled: after.settled.toString(), nonce: latest.receipt.nonce.toString(), tx }, 'settled');
    return { ...base, outcome: 'settled', paid, settled: after.settled, tx };
  }

  async function round(): Promise<SettleResult[]> {
    const results: SettleResult[] = [];
    for (const billing of store.unsettled()) {
      try {
        const result = await settleUser(billing.user);
        if (result) results.push(result);
      } catch (cause) {
        // The chain being down is not the end of the provider: the usage stays owed and durable.
        const error = settleError(cause);
        log.warn({ user: billing.user, code: error.code, err: errorMessage(error) }, 'settlement round failed for user');
        results.push({ user: billing.user, outcome: 'failed', amount: billing.spent, paid: 0n, settled: billing.settled, error });
      }
    }
    if (options.onResult) for (const result of results) options.onResult(result);
    return results;
  }

  function settleAll(): Promise<SettleResult[]> {
    const next = queue.then(round, round);
    queue = next.catch(() => undefined);
    return next;
  }

  function schedule(): void {
    if (!running || intervalMs <= 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      void settleAll().finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    settleAll,
    async start() {
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await settleAll();
    },
  };
}

/** A settle failure as a typed error, named after the ledger's custom error when it reverted. */
export function settleError(error: unknown): LevityError {
  if (error instanceof LevityError) return error;
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError) {
      const name = reverted.data?.errorName ?? 'unknown';
      return new UpstreamError('SERVING_SETTLE_REJECTED', `ServingLedger.settle refused: ${name}`, {
        cause: error,
        meta: { revert: name, args: (reverted.data?.args ?? []).map(String) },
      });
    }
  }
  return new UpstreamError('SERVING_CHAIN_FAILED', `settling on chain failed: ${errorMessage(error)}`, { cause: error });
}
