/**
 * Test support: a fresh in-memory EVM with Levity's contracts compiled, for contract tests.
 * It is the devnet's own EVM (same settings, no journal), so contracts are tested on what runs.
 */
import assert from 'node:assert/strict';
import { BaseError, ContractFunctionRevertedError, createPublicClient, createWalletClient, custom, getAddress } from 'viem';
import type { Address, PublicClient } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import type { HDAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';
import { compileContracts, CONTRACTS_DIR, SOLC_CACHE_DIR } from './compile-contracts.ts';
import type { CompiledContracts, ContractArtifact } from './compile-contracts.ts';
import { createEdrEvm } from './edr-evm.ts';
import type { Genesis } from './genesis.ts';
import type { Eip1193Provider } from './eip1193.ts';

const MNEMONIC = 'test test test test test test test test test test test junk';

export type TestEvm = {
  publicClient: PublicClient;
  compiled: CompiledContracts;
  /** Dev accounts 0..9; 0 deploys. */
  accounts: HDAccount[];
  wallet(account: HDAccount): TestWallet;
  deploy(artifact: ContractArtifact, args?: readonly unknown[], from?: HDAccount): Promise<Address>;
  close(): Promise<void>;
};

// Hardhat's provider throws its own error class for reverts; viem's custom transport would
// retry those with backoff (~1 s per expected revert). An in-process chain never fails
// transiently, so never retry.
const testTransport = (provider: Eip1193Provider) => custom(provider, { retryCount: 0 });
const testWallet = (provider: Eip1193Provider, account: HDAccount) =>
  createWalletClient({ account, chain: hardhat, transport: testTransport(provider) });
export type TestWallet = ReturnType<typeof testWallet>;

export async function startTestEvm(): Promise<TestEvm> {
  const genesis: Genesis = {
    chainId: 31337,
    hardfork: 'prague',
    mnemonic: MNEMONIC,
    accounts: 10,
    balanceWei: (10n ** 22n).toString(),
    initialDate: new Date().toISOString(),
    blockGasLimit: 60_000_000,
    initialBaseFeePerGas: 1_000_000_000,
    coinbase: '0xc014ba5ec014ba5ec014ba5ec014ba5ec014ba5e',
  };
  const [evm, compiled] = await Promise.all([
    createEdrEvm(genesis),
    compileContracts({ sourcesDir: CONTRACTS_DIR, cacheDir: SOLC_CACHE_DIR }),
  ]);
  const publicClient = createPublicClient({ chain: hardhat, transport: testTransport(evm.provider) }) as PublicClient;
  const accounts = Array.from({ length: 10 }, (_, addressIndex) => mnemonicToAccount(MNEMONIC, { addressIndex }));
  const wallet = (account: HDAccount) => testWallet(evm.provider, account);
  return {
    publicClient,
    compiled,
    accounts,
    wallet,
    async deploy(artifact, args = [], from = accounts[0]!) {
      const hash = await wallet(from).deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
      const receipt = await publicClient.getTransactionReceipt({ hash });
      assert.equal(receipt.status, 'success');
      assert.ok(receipt.contractAddress);
      return getAddress(receipt.contractAddress);
    },
    close: () => evm.close(),
  };
}

/** Asserts that `action` reverts with the custom error `errorName` (and `args`, if given). */
export async function assertReverts(action: Promise<unknown>, errorName: string, args?: readonly unknown[]): Promise<void> {
  await assert.rejects(action, (err: unknown) => {
    assert.ok(err instanceof BaseError, String(err));
    const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
    assert.ok(reverted instanceof ContractFunctionRevertedError, err.message);
    assert.equal(reverted.data?.errorName, errorName);
    if (args) assert.deepEqual(reverted.data?.args ?? [], args);
    return true;
  });
}
