import { createHardhatRuntimeEnvironment } from 'hardhat/hre';
import { PACKAGE_ROOT } from '../shared/package-root.ts';
import type { SubscribableProvider } from './eip1193.ts';
import type { Genesis } from './genesis.ts';

export type EdrEvm = {
  provider: SubscribableProvider;
  close(): Promise<void>;
};

/**
 * An in-memory EVM (Hardhat 3's EDR) built from a genesis. Settings that decide block
 * contents are all pinned here or in the genesis, so two EVMs fed the same requests agree.
 */
export async function createEdrEvm(genesis: Genesis): Promise<EdrEvm> {
  const hre = await createHardhatRuntimeEnvironment(
    {
      networks: {
        default: {
          type: 'edr-simulated',
          chainId: genesis.chainId,
          hardfork: genesis.hardfork,
          initialDate: genesis.initialDate,
          blockGasLimit: genesis.blockGasLimit,
          initialBaseFeePerGas: genesis.initialBaseFeePerGas,
          coinbase: genesis.coinbase,
          mining: { auto: true, interval: 0 },
          // Like geth: a reverted transaction is mined and answered with its hash; the
          // receipt says it failed. Calls that revert still answer with an error.
          throwOnTransactionFailures: false,
          throwOnCallFailures: true,
          loggingEnabled: false,
          accounts: {
            mnemonic: genesis.mnemonic,
            count: genesis.accounts,
            accountsBalance: BigInt(genesis.balanceWei),
          },
        },
      },
    },
    {},
    // Hardhat wants a project root with a package.json; ours has one. Nothing is written there.
    PACKAGE_ROOT,
  );
  const connection = await hre.network.create();
  return {
    provider: connection.provider as unknown as SubscribableProvider,
    close: () => connection.close(),
  };
}
