import { bytesToHex } from 'viem';
import type { Account, Address, Chain, LocalAccount, PublicClient, Transport, WalletClient } from 'viem';
import { blsSign } from '../../protocol/da/bls.ts';
import { g1ToEip2537, g2ToEip2537 } from '../../protocol/da/bls-eip2537.ts';
import { popMessage } from '../../protocol/da/certificate.ts';
import { dataAvailabilityAbi } from '../../protocol/da/da-contract-abi.ts';
import type { Committee, DaDomain } from '../../protocol/da/types.ts';
import { LevityError } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';

/** Gas money sent along with the stake: register verifies a proof of possession with precompiles. */
export const REGISTER_GAS_ALLOWANCE_WEI = 10n ** 17n;

export type EnsureRegisteredOptions = {
  client: PublicClient;
  wallet: WalletClient<Transport, Chain, Account>;
  account: LocalAccount;
  domain: DaDomain;
  bls: { secretKey: Uint8Array; publicKey: Uint8Array };
  url: string;
  stakeWei: bigint;
  fund?(address: Address, minimumWei: bigint): Promise<void>;
  committee: Committee;
  log: Logger;
};

/**
 * Registers this node in the DataAvailability contract unless its address already is there
 * (a restart). Returns true when it sent a registration, so the caller re-reads the committee.
 */
export async function ensureRegistered(options: EnsureRegisteredOptions): Promise<boolean> {
  const { client, wallet, account, domain, bls, log } = options;
  const member = options.committee.members.find((m) => m.address.toLowerCase() === account.address.toLowerCase());
  if (member) {
    if (bytesToHex(member.publicKey) !== bytesToHex(bls.publicKey)) {
      throw new LevityError('DA_IDENTITY_MISMATCH', `node ${account.address} is registered with another BLS key than identity.json holds`, {
        meta: { node: account.address },
      });
    }
    if (member.url !== options.url) {
      // The contract keeps the first URL; peers reach this node through the manifest or config.
      log.warn({ registeredUrl: member.url, url: options.url }, 'DA node registered under another URL');
    }
    return false;
  }

  await options.fund?.(account.address, options.stakeWei + REGISTER_GAS_ALLOWANCE_WEI);
  const publicKey = g1ToEip2537(bls.publicKey);
  const pop = blsSign(bls.secretKey, popMessage(domain, account.address, publicKey));
  const hash = await wallet.writeContract({
    address: domain.contract,
    abi: dataAvailabilityAbi,
    functionName: 'register',
    args: [options.url, bytesToHex(publicKey), bytesToHex(g2ToEip2537(pop))],
    value: options.stakeWei,
    account: wallet.account,
    chain: wallet.chain,
  });
  const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (receipt.status !== 'success') {
    throw new LevityError('DA_REGISTER_FAILED', `DataAvailability.register reverted (tx ${hash})`, { meta: { tx: hash } });
  }
  log.info({ node: account.address, url: options.url, stakeWei: options.stakeWei.toString(), tx: hash }, 'DA node registered');
  return true;
}
