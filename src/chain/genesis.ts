import type { Hex } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import { bytesToHex } from 'viem';
import { LevityError } from '../protocol/errors.ts';
import { readJsonFile, writeJsonFile } from '../shared/json-file.ts';

/**
 * Everything that decides block 0. Written once when a data dir is new, then read back on
 * every start, so a restart rebuilds the same genesis even if defaults change meanwhile.
 */
export type Genesis = {
  chainId: number;
  hardfork: 'prague' | 'osaka';
  mnemonic: string;
  accounts: number;
  balanceWei: string;
  /** ISO time of block 0. */
  initialDate: string;
  blockGasLimit: number;
  initialBaseFeePerGas: number;
  coinbase: Hex;
};

export type GenesisOptions = Pick<Genesis, 'chainId' | 'hardfork' | 'mnemonic' | 'accounts'> & { balanceEth: number };

export type DevAccount = { address: Hex; privateKey: Hex };

export async function loadOrCreateGenesis(path: string, options: GenesisOptions, now: Date): Promise<Genesis> {
  let stored: unknown;
  try {
    stored = await readJsonFile(path);
  } catch (cause) {
    throw new LevityError('CHAIN_GENESIS_CORRUPT', `genesis file ${path} is not valid JSON`, { cause });
  }
  if (stored !== undefined) return stored as Genesis;
  const genesis: Genesis = {
    chainId: options.chainId,
    hardfork: options.hardfork,
    mnemonic: options.mnemonic,
    accounts: options.accounts,
    balanceWei: (BigInt(options.balanceEth) * 10n ** 18n).toString(),
    initialDate: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    blockGasLimit: 60_000_000,
    initialBaseFeePerGas: 1_000_000_000,
    coinbase: '0xc014ba5ec014ba5ec014ba5ec014ba5ec014ba5e',
  };
  await writeJsonFile(path, genesis);
  return genesis;
}

/** The dev accounts, derived like Hardhat and Anvil do (m/44'/60'/0'/0/i). */
export function devAccounts(mnemonic: string, count: number): DevAccount[] {
  return Array.from({ length: count }, (_, addressIndex) => {
    const account = mnemonicToAccount(mnemonic, { addressIndex });
    const key = account.getHdKey().privateKey;
    if (!key) throw new LevityError('CHAIN_ACCOUNT_DERIVATION', `cannot derive dev account ${addressIndex}`);
    return { address: account.address, privateKey: bytesToHex(key) };
  });
}
