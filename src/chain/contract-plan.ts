import type { DeployStep } from './deploy-contracts.ts';

/** What a devnet charges per 256-byte sector stored: small, but enough to exercise the fee path. */
export const DEVNET_PRICE_PER_SECTOR = 1_000_000_000n;

/** What a DA node stakes at least to join the committee: 1 ether. */
export const DA_MIN_STAKE = 10n ** 18n;
/** How many DA nodes hold each cell (capped at the node count on chain). */
export const DA_REPLICATION = 2;

/** Seconds a serving refund waits before it can be claimed: a provider settles well within it. */
export const SERVING_LOCK_TIME = 60n;

/**
 * The contracts every Levity chain carries, in deployment order. A step's `args` can read the
 * addresses of the steps before it. Subsystems append their contracts here.
 */
export const CONTRACT_PLAN: readonly DeployStep[] = [
  { name: 'NodeRegistry' },
  { name: 'Market', args: () => [DEVNET_PRICE_PER_SECTOR] },
  {
    name: 'Flow',
    args: ({ Market }) => [Market],
    // The market takes fees only from its flow, so a new Flow must be announced to it.
    async afterDeploy({ addresses, client, wallet, compiled }) {
      const hash = await wallet.writeContract({
        address: addresses.Market!,
        abi: compiled.contracts.Market!.abi,
        functionName: 'setFlow',
        args: [addresses.Flow],
        chain: wallet.chain,
        account: wallet.account,
      });
      await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    },
  },
  { name: 'DataAvailability', args: () => [DA_MIN_STAKE, DA_REPLICATION] },
  { name: 'ServiceRegistry' },
  { name: 'ServingLedger', args: () => [SERVING_LOCK_TIME] },
];
