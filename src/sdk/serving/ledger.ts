/**
 * ServingLedger actions for users: deposit, withdraw, fund a provider's sub-account, take funds
 * back through the refund lock, and read balances. Reverts come back as typed Levity errors
 * (e.g. RefundLocked → ConflictError SERVING_REFUND_LOCKED with the unlock time), so callers never
 * parse viem's revert data themselves.
 */
import { BaseError, ContractFunctionRevertedError, getAddress, isAddress, parseEventLogs } from 'viem';
import type { Account, Address, Chain, Hex, PublicClient, Transport, WalletClient } from 'viem';
import { ConflictError, InvalidInputError, LevityError, NotFoundError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { servingLedgerAbi } from '../../protocol/serving/serving-ledger-abi.ts';

/** A wallet with its account: the user who pays. */
export type ServingWallet = WalletClient<Transport, Chain | undefined, Account>;

export type LedgerReadParameters = { client: PublicClient; ledger: Address };
export type LedgerWriteParameters = LedgerReadParameters & { wallet: ServingWallet };

export type LedgerTransaction = { hash: Hex; blockNumber: bigint; gasUsed: bigint };

export type DepositParameters = LedgerWriteParameters & { amount: bigint };
export type WithdrawParameters = LedgerWriteParameters & { amount: bigint };
export type FundParameters = LedgerWriteParameters & { provider: Address; amount: bigint };
export type RequestRefundParameters = LedgerWriteParameters & {
  provider: Address;
  /** Wei to take back; default the sub-account's whole balance. */
  amount?: bigint;
};
export type RequestRefundReturnType = LedgerTransaction & { amount: bigint; unlockAt: bigint };
export type ClaimRefundParameters = LedgerWriteParameters & { provider: Address };
export type ClaimRefundReturnType = LedgerTransaction & { amount: bigint };

export type LedgerAccountParameters = LedgerReadParameters & { user: Address };
export type LedgerAccount = { available: bigint };
export type SubAccountParameters = LedgerReadParameters & { user: Address; provider: Address };
export type SubAccount = {
  balance: bigint;
  pendingRefund: bigint;
  /** Unix seconds at which the pending refund can be claimed (0: none pending). */
  unlockAt: bigint;
  /** Paid to the provider so far. */
  settled: bigint;
  lastNonce: bigint;
};

export const ServingLedgerErrorCode = {
  zeroAmount: 'SERVING_ZERO_AMOUNT',
  insufficientAvailable: 'SERVING_INSUFFICIENT_AVAILABLE',
  insufficientBalance: 'SERVING_INSUFFICIENT_BALANCE',
  refundLocked: 'SERVING_REFUND_LOCKED',
  noPendingRefund: 'SERVING_NO_PENDING_REFUND',
  nothingToRefund: 'SERVING_NOTHING_TO_REFUND',
  reverted: 'SERVING_LEDGER_REVERTED',
  unreachable: 'SERVING_LEDGER_UNREACHABLE',
  invalidArgument: 'SERVING_INVALID_ARGUMENT',
} as const;

/** Moves `amount` wei from the wallet into the user's available ledger funds. */
export async function deposit(parameters: DepositParameters): Promise<LedgerTransaction> {
  const amount = positive(parameters.amount, 'amount');
  return (await send(parameters, 'deposit', [], amount)).tx;
}

/** Moves `amount` wei of available ledger funds back to the wallet. */
export async function withdraw(parameters: WithdrawParameters): Promise<LedgerTransaction> {
  const amount = positive(parameters.amount, 'amount');
  return (await send(parameters, 'withdraw', [amount])).tx;
}

/** Moves `amount` wei of available funds into the sub-account for `provider`. */
export async function fund(parameters: FundParameters): Promise<LedgerTransaction> {
  const provider = address(parameters.provider, 'provider');
  const amount = positive(parameters.amount, 'amount');
  return (await send(parameters, 'fund', [provider, amount])).tx;
}

/**
 * Starts taking funds back from a sub-account. They stay spendable by the provider's settlements
 * until `unlockAt`, then `claimRefund` moves what is left to the available funds.
 */
export async function requestRefund(parameters: RequestRefundParameters): Promise<RequestRefundReturnType> {
  const provider = address(parameters.provider, 'provider');
  let amount = parameters.amount;
  if (amount === undefined) {
    const user = parameters.wallet.account.address;
    amount = (await subAccount({ client: parameters.client, ledger: parameters.ledger, user, provider })).balance;
    if (amount === 0n) {
      throw new ConflictError(ServingLedgerErrorCode.nothingToRefund, `the sub-account for ${provider} holds nothing to refund`, {
        meta: { user, provider },
      });
    }
  }
  positive(amount, 'amount');
  const { tx, logs } = await send(parameters, 'requestRefund', [provider, amount]);
  const event = logs.find((log) => log.eventName === 'RefundRequested');
  const unlockAt = event?.eventName === 'RefundRequested' ? event.args.unlockAt : 0n;
  return { ...tx, amount, unlockAt };
}

/** Moves an unlocked pending refund back to the available funds; RefundLocked before its time. */
export async function claimRefund(parameters: ClaimRefundParameters): Promise<ClaimRefundReturnType> {
  const provider = address(parameters.provider, 'provider');
  const { tx, logs } = await send(parameters, 'claimRefund', [provider]);
  const event = logs.find((log) => log.eventName === 'RefundClaimed');
  return { ...tx, amount: event?.eventName === 'RefundClaimed' ? event.args.amount : 0n };
}

/** The user's funds in the ledger that are in no sub-account. */
export async function ledgerAccount(parameters: LedgerAccountParameters): Promise<LedgerAccount> {
  const user = address(parameters.user, 'user');
  const available = await read(() =>
    parameters.client.readContract({ address: parameters.ledger, abi: servingLedgerAbi, functionName: 'accountOf', args: [user] }),
  );
  return { available };
}

/** The user's sub-account for one provider. */
export async function subAccount(parameters: SubAccountParameters): Promise<SubAccount> {
  const user = address(parameters.user, 'user');
  const provider = address(parameters.provider, 'provider');
  const [balance, pendingRefund, unlockAt, settled, lastNonce] = await read(() =>
    parameters.client.readContract({ address: parameters.ledger, abi: servingLedgerAbi, functionName: 'subAccount', args: [user, provider] }),
  );
  return { balance, pendingRefund, unlockAt, settled, lastNonce };
}

type WriteName = 'deposit' | 'withdraw' | 'fund' | 'requestRefund' | 'claimRefund';

async function send(parameters: LedgerWriteParameters, functionName: WriteName, args: readonly unknown[], value?: bigint) {
  const { wallet, client, ledger } = parameters;
  let hash: Hex;
  try {
    // viem estimates gas first, so a revert surfaces here with the contract's error decoded.
    hash = await wallet.writeContract({
      address: ledger,
      abi: servingLedgerAbi,
      functionName,
      args,
      value,
      chain: wallet.chain ?? null,
      account: wallet.account,
    } as Parameters<ServingWallet['writeContract']>[0]);
  } catch (error) {
    throw ledgerError(error, functionName);
  }
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 100, timeout: 120_000 }).catch((error: unknown) => {
    throw new UpstreamError(ServingLedgerErrorCode.unreachable, `no receipt for ${functionName} transaction ${hash}`, { cause: error, meta: { hash } });
  });
  if (receipt.status !== 'success') {
    throw new UpstreamError(ServingLedgerErrorCode.reverted, `ServingLedger.${functionName} reverted`, { meta: { hash } });
  }
  // Only the ledger's own logs: another contract in the same tx could emit look-alikes.
  const ours = receipt.logs.filter((log) => log.address.toLowerCase() === ledger.toLowerCase());
  const logs = parseEventLogs({ abi: servingLedgerAbi, logs: ours });
  return { tx: { hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed }, logs };
}

async function read<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw ledgerError(error, 'read');
  }
}

/** Maps a viem failure to a typed error: the contract's custom errors by name, the rest as upstream failures. */
export function ledgerError(error: unknown, action: string): LevityError {
  if (error instanceof LevityError) return error;
  const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : undefined;
  if (reverted instanceof ContractFunctionRevertedError && reverted.data) {
    const name = reverted.data.errorName;
    const args = (reverted.data.args ?? []) as readonly unknown[];
    const meta = { action, error: name };
    switch (name) {
      case 'ZeroAmount':
        return new InvalidInputError(ServingLedgerErrorCode.zeroAmount, 'the amount must be above zero', { cause: error, meta });
      case 'InsufficientAvailable':
        return new ConflictError(ServingLedgerErrorCode.insufficientAvailable, 'not enough available funds in the ledger (deposit first)', {
          cause: error,
          meta,
        });
      case 'InsufficientBalance':
        return new ConflictError(ServingLedgerErrorCode.insufficientBalance, 'the sub-account holds less than that', { cause: error, meta });
      case 'RefundLocked': {
        const unlockAt = typeof args[0] === 'bigint' ? args[0] : 0n;
        return new ConflictError(ServingLedgerErrorCode.refundLocked, `the pending refund unlocks at ${new Date(Number(unlockAt) * 1000).toISOString()}`, {
          cause: error,
          meta: { ...meta, unlockAt },
        });
      }
      case 'NoPendingRefund':
        return new NotFoundError(ServingLedgerErrorCode.noPendingRefund, 'no refund is pending for this provider', { cause: error, meta });
      default:
        return new UpstreamError(ServingLedgerErrorCode.reverted, `ServingLedger ${action} reverted with ${name}`, { cause: error, meta });
    }
  }
  return new UpstreamError(ServingLedgerErrorCode.unreachable, `ServingLedger ${action} failed`, {
    details: error instanceof BaseError ? error.shortMessage : errorMessage(error),
    cause: error,
    meta: { action },
  });
}

function positive(amount: bigint, field: string): bigint {
  if (typeof amount !== 'bigint' || amount <= 0n) {
    throw new InvalidInputError(ServingLedgerErrorCode.zeroAmount, `${field} must be a positive number of wei`, { meta: { field, value: String(amount) } });
  }
  return amount;
}

function address(value: string, field: string): Address {
  if (typeof value !== 'string' || !isAddress(value, { strict: false })) {
    throw new InvalidInputError(ServingLedgerErrorCode.invalidArgument, `${field} must be a 20-byte 0x address, not "${String(value)}"`, { meta: { field } });
  }
  return getAddress(value);
}
