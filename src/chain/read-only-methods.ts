/**
 * JSON-RPC methods that never change chain state. Everything else is treated as a write:
 * serialized and journaled. Unknown methods therefore default to the safe side.
 */
const READ_ONLY = new Set([
  'eth_accounts',
  'eth_blobBaseFee',
  'eth_blockNumber',
  'eth_call',
  'eth_chainId',
  'eth_coinbase',
  'eth_createAccessList',
  'eth_estimateGas',
  'eth_feeHistory',
  'eth_gasPrice',
  'eth_getFilterChanges',
  'eth_getFilterLogs',
  'eth_hashrate',
  'eth_maxPriorityFeePerGas',
  'eth_mining',
  'eth_newBlockFilter',
  'eth_newFilter',
  'eth_newPendingTransactionFilter',
  'eth_protocolVersion',
  'eth_sign',
  'eth_signTypedData_v4',
  'eth_subscribe',
  'eth_syncing',
  'eth_uninstallFilter',
  'eth_unsubscribe',
  'hardhat_getAutomine',
  'hardhat_metadata',
  'net_listening',
  'net_peerCount',
  'net_version',
  'personal_sign',
  'web3_clientVersion',
  'web3_sha3',
]);

export function isReadOnlyMethod(method: string): boolean {
  return READ_ONLY.has(method) || method.startsWith('eth_get') || method.startsWith('debug_');
}

/** Writes a persistent devnet cannot replay deterministically, refused with a reason. */
export function refusedWrite(method: string, params: readonly unknown[]): string | undefined {
  if (method === 'evm_setIntervalMining' && params[0] !== 0 && params[0] !== false) {
    return 'interval mining makes blocks on a timer, which a persistent devnet cannot replay; use automine or evm_mine';
  }
  return undefined;
}
