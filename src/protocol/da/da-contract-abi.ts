/**
 * The ABI of contracts/DataAvailability.sol, by hand so that the SDK and the DA services need no compiler.
 * src/chain/data-availability.test.ts checks it against the compiled one.
 */

const certificateComponents = [
  { name: 'epoch', type: 'uint64' },
  { name: 'payloadSize', type: 'uint64' },
  { name: 'blobCount', type: 'uint32' },
  { name: 'commitmentsHash', type: 'bytes32' },
  { name: 'signers', type: 'uint256' },
  { name: 'signature', type: 'bytes' },
] as const;

export const dataAvailabilityAbi = [
  {
    type: 'constructor',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'minStake_', type: 'uint256' },
      { name: 'replication_', type: 'uint8' },
    ],
  },
  {
    type: 'function',
    name: 'register',
    stateMutability: 'payable',
    inputs: [
      { name: 'url', type: 'string' },
      { name: 'publicKey', type: 'bytes' },
      { name: 'popSignature', type: 'bytes' },
    ],
    outputs: [],
  },
  { type: 'function', name: 'epoch', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'uint64' }] },
  { type: 'function', name: 'replication', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'uint8' }] },
  { type: 'function', name: 'minStake', stateMutability: 'view', inputs: [], outputs: [{ name: '', type: 'uint256' }] },
  {
    type: 'function',
    name: 'committee',
    stateMutability: 'view',
    inputs: [],
    outputs: [
      { name: 'epoch_', type: 'uint64' },
      { name: 'replication_', type: 'uint8' },
      { name: 'nodes', type: 'address[]' },
      { name: 'urls', type: 'string[]' },
      { name: 'stakes', type: 'uint256[]' },
      { name: 'publicKeys', type: 'bytes[]' },
    ],
  },
  {
    type: 'function',
    name: 'submitCertificate',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'cert', type: 'tuple', components: certificateComponents }],
    outputs: [{ name: 'dataRoot', type: 'bytes32' }],
  },
  {
    type: 'function',
    name: 'commitmentExists',
    stateMutability: 'view',
    inputs: [{ name: 'dataRoot', type: 'bytes32' }],
    outputs: [{ name: '', type: 'bool' }],
  },
  {
    type: 'function',
    name: 'certificateOf',
    stateMutability: 'view',
    inputs: [{ name: 'dataRoot', type: 'bytes32' }],
    outputs: [
      { name: 'epoch_', type: 'uint64' },
      { name: 'payloadSize', type: 'uint64' },
      { name: 'blobCount', type: 'uint32' },
      { name: 'commitmentsHash', type: 'bytes32' },
      { name: 'signers', type: 'uint256' },
      { name: 'blockNumber', type: 'uint64' },
    ],
  },
  {
    type: 'event',
    name: 'NodeRegistered',
    anonymous: false,
    inputs: [
      { name: 'node', type: 'address', indexed: true },
      { name: 'index', type: 'uint256', indexed: false },
      { name: 'url', type: 'string', indexed: false },
      { name: 'stake', type: 'uint256', indexed: false },
      { name: 'publicKey', type: 'bytes', indexed: false },
      { name: 'epoch', type: 'uint64', indexed: false },
    ],
  },
  {
    type: 'event',
    name: 'DataCertified',
    anonymous: false,
    inputs: [
      { name: 'dataRoot', type: 'bytes32', indexed: true },
      { name: 'epoch', type: 'uint64', indexed: false },
      { name: 'payloadSize', type: 'uint64', indexed: false },
      { name: 'blobCount', type: 'uint32', indexed: false },
      { name: 'signers', type: 'uint256', indexed: false },
    ],
  },
  { type: 'error', name: 'AlreadyRegistered', inputs: [{ name: 'node', type: 'address' }] },
  {
    type: 'error',
    name: 'StakeTooLow',
    inputs: [
      { name: 'sent', type: 'uint256' },
      { name: 'min', type: 'uint256' },
    ],
  },
  { type: 'error', name: 'InvalidPublicKey', inputs: [] },
  { type: 'error', name: 'InvalidProofOfPossession', inputs: [] },
  { type: 'error', name: 'CommitteeFull', inputs: [{ name: 'max', type: 'uint256' }] },
  { type: 'error', name: 'InvalidReplication', inputs: [] },
  {
    type: 'error',
    name: 'WrongEpoch',
    inputs: [
      { name: 'expected', type: 'uint64' },
      { name: 'got', type: 'uint64' },
    ],
  },
  { type: 'error', name: 'AlreadyCertified', inputs: [{ name: 'dataRoot', type: 'bytes32' }] },
  { type: 'error', name: 'UnknownSigner', inputs: [{ name: 'index', type: 'uint256' }] },
  { type: 'error', name: 'NoSigners', inputs: [] },
  {
    type: 'error',
    name: 'InsufficientStake',
    inputs: [
      { name: 'signed', type: 'uint256' },
      { name: 'total', type: 'uint256' },
    ],
  },
  { type: 'error', name: 'CellsNotCovered', inputs: [] },
  { type: 'error', name: 'InvalidSignature', inputs: [] },
  { type: 'error', name: 'PrecompileFailed', inputs: [{ name: 'precompile', type: 'address' }] },
] as const;

/** The certificate struct as viem encodes it for `submitCertificate`. */
export type DaCertificateArgs = {
  epoch: bigint;
  payloadSize: bigint;
  blobCount: number;
  commitmentsHash: `0x${string}`;
  signers: bigint;
  /** 256-byte EIP-2537 G2 aggregate signature. */
  signature: `0x${string}`;
};
