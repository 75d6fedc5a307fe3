/**
 * The ABI of contracts/ServingLedger.sol, by hand so that the SDK and the provider need no compiler.
 * src/chain/serving-contracts.test.ts checks it against the compiled one.
 */

const receiptComponents = [
  { name: 'user', type: 'address' },
  { name: 'provider', type: 'address' },
  { name: 'cumulativeAmount', type: 'uint256' },
  { name: 'nonce', type: 'uint256' },
] as const;

const userAndProvider = [
  { name: 'user', type: 'address', indexed: true },
  { name: 'provider', type: 'address', indexed: true },
] as const;

const noArgs = [] as const;

export const servingLedgerAbi = [
  {
    type: 'constructor',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'lockTime_', type: 'uint256' }],
  },
  { type: 'function', name: 'deposit', stateMutability: 'payable', inputs: [], outputs: [] },
  {
    type: 'function',
    name: 'withdraw',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'amount', type: 'uint256' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'fund',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'provider', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'requestRefund',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'provider', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'claimRefund',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'provider', type: 'address' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'settle',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'receipt', type: 'tuple', components: receiptComponents },
      { name: 'signature', type: 'bytes' },
      { name: 'amount', type: 'uint256' },
    ],
    outputs: [],
  },
  {
    type: 'function',
    name: 'accountOf',
    stateMutability: 'view',
    inputs: [{ name: 'user', type: 'address' }],
    outputs: [{ name: 'available', type: 'uint256' }],
  },
  {
    type: 'function',
    name: 'subAccount',
    stateMutability: 'view',
    inputs: [
      { name: 'user', type: 'address' },
      { name: 'provider', type: 'address' },
    ],
    outputs: [
      { name: 'balance', type: 'uint256' },
      { name: 'pendingRefund', type: 'uint256' },
      { name: 'unlockAt', type: 'uint256' },
      { name: 'settled', type: 'uint256' },
      { name: 'lastNonce', type: 'uint256' },
    ],
  },
  { type: 'function', name: 'lockTime', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'uint256' }] },
  {
    type: 'event',
    name: 'Deposited',
    anonymous: false,
    inputs: [
      { name: 'user', type: 'address', indexed: true },
      { name: 'amount', type: 'uint256', indexed: false },
    ],
  },
  {
    type: 'event',
    name: 'Withdrawn',
    anonymous: false,
    inputs: [
      { name: 'user', type: 'address', indexed: true },
      { name: 'amount', type: 'uint256', indexed: false },
    ],
  },
  {
    type: 'event',
    name: 'Funded',
    anonymous: false,
    inputs: [...userAndProvider, { name: 'amount', type: 'uint256', indexed: false }],
  },
  {
    type: 'event',
    name: 'RefundRequested',
    anonymous: false,
    inputs: [
      ...userAndProvider,
      { name: 'amount', type: 'uint256', indexed: false },
      { name: 'unlockAt', type: 'uint256', indexed: false },
    ],
  },
  {
    type: 'event',
    name: 'RefundClaimed',
    anonymous: false,
    inputs: [...userAndProvider, { name: 'amount', type: 'uint256', indexed: false }],
  },
  {
    type: 'event',
    name: 'Settled',
    anonymous: false,
    inputs: [
      ...userAndProvider,
      { name: 'paid', type: 'uint256', indexed: false },
      { name: 'settledTotal', type: 'uint256', indexed: false },
      { name: 'nonce', type: 'uint256', indexed: false },
    ],
  },
  { type: 'error', name: 'InsufficientAvailable', inputs: noArgs },
  { type: 'error', name: 'InsufficientBalance', inputs: noArgs },
  { type: 'error', name: 'RefundLocked', inputs: [{ name: 'unlockAt', type: 'uint256' }] },
  { type: 'error', name: 'NoPendingRefund', inputs: noArgs },
  { type: 'error', name: 'NotProvider', inputs: noArgs },
  { type: 'error', name: 'BadSignature', inputs: noArgs },
  { type: 'error', name: 'StaleReceipt', inputs: noArgs },
  { type: 'error', name: 'NothingToSettle', inputs: noArgs },
  {
    type: 'error',
    name: 'OverSigned',
    inputs: [
      { name: 'amount', type: 'uint256' },
      { name: 'signed', type: 'uint256' },
    ],
  },
  { type: 'error', name: 'ZeroAmount', inputs: noArgs },
  {
    type: 'error',
    name: 'TransferFailed',
    inputs: [
      { name: 'to', type: 'address' },
      { name: 'amount', type: 'uint256' },
    ],
  },
  { type: 'error', name: 'Reentered', inputs: noArgs },
] as const;
