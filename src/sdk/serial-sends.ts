import type { Account, Chain, Transport, WalletClient } from 'viem';

/** viem's generic send actions, seen from outside: arguments in, a promise out. */
type Send = (...args: unknown[]) => Promise<unknown>;

/** Per chain and sender, the tail of the transactions this process has sent or is sending. */
const queues = new Map<string, Promise<unknown>>();

/**
 * The same wallet, with every transaction from its account (sendTransaction, writeContract,
 * deployContract) sent one after another across the whole process. Each send reads the account's
 * pending nonce after the previous one reached the node, so roles that sign with one key at once
 * (on an external chain they all use the operator key) never race for a nonce, and a send that
 * fails before reaching the node (a revert in estimation) leaves no gap that strands later ones.
 */
export function withSerialSends<W extends WalletClient<Transport, Chain, Account>>(wallet: W): W {
  const key = `${wallet.chain.id}:${wallet.account.address.toLowerCase()}`;
  const serial = (action: Send): Send => (...args) => {
    const run = () => action(...args);
    const next = (queues.get(key) ?? Promise.resolve()).then(run, run);
    queues.set(key, next.catch(() => undefined));
    return next;
  };
  // viem's own writeContract and deployContract reach the raw sendTransaction, never these
  // wrappers, so one queued call never waits on another.
  const overrides = {
    sendTransaction: serial(wallet.sendTransaction as unknown as Send),
    writeContract: serial(wallet.writeContract as unknown as Send),
    deployContract: serial(wallet.deployContract as unknown as Send),
  };
  return wallet.extend(() => overrides as never) as unknown as W;
}
