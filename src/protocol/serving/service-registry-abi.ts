/**
 * The ABI of contracts/ServiceRegistry.sol, by hand so that the SDK and the provider need no compiler.
 * src/chain/serving-contracts.test.ts checks it against the compiled one.
 */

const serviceComponents = [
  { name: 'name', type: 'string' },
  { name: 'serviceType', type: 'string' },
  { name: 'url', type: 'string' },
  { name: 'model', type: 'string' },
  { name: 'inputPricePerToken', type: 'uint256' },
  { name: 'outputPricePerToken', type: 'uint256' },
  { name: 'verifiability', type: 'string' },
] as const;

const serviceRecordComponents = [
  { name: 'provider', type: 'address' },
  ...serviceComponents,
  { name: 'updatedAt', type: 'uint256' },
] as const;

export const serviceRegistryAbi = [
  {
    type: 'function',
    name: 'register',
    stateMutability: 'nonpayable',
    inputs: [{ name: 's', type: 'tuple', components: serviceComponents }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'upsert',
    stateMutability: 'nonpayable',
    inputs: [{ name: 's', type: 'tuple', components: serviceComponents }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'remove',
    stateMutability: 'nonpayable',
    inputs: [{ name: 'name', type: 'string' }],
    outputs: [],
  },
  {
    type: 'function',
    name: 'services',
    stateMutability: 'view',
    inputs: [],
    outputs: [{ name: 'list', type: 'tuple[]', components: serviceRecordComponents }],
  },
  {
    type: 'function',
    name: 'service',
    stateMutability: 'view',
    inputs: [
      { name: 'provider', type: 'address' },
      { name: 'name', type: 'string' },
    ],
    outputs: [{ name: '', type: 'tuple', components: serviceRecordComponents }],
  },
  {
    type: 'event',
    name: 'ServiceRegistered',
    anonymous: false,
    inputs: [
      { name: 'provider', type: 'address', indexed: true },
      { name: 'name', type: 'string', indexed: false },
      { name: 'service', type: 'tuple', indexed: false, components: serviceComponents },
    ],
  },
  {
    type: 'event',
    name: 'ServiceRemoved',
    anonymous: false,
    inputs: [
      { name: 'provider', type: 'address', indexed: true },
      { name: 'name', type: 'string', indexed: false },
    ],
  },
  {
    type: 'error',
    name: 'UnknownService',
    inputs: [
      { name: 'provider', type: 'address' },
      { name: 'name', type: 'string' },
    ],
  },
  { type: 'error', name: 'EmptyField', inputs: [{ name: 'field', type: 'string' }] },
  { type: 'error', name: 'FieldTooLong', inputs: [{ name: 'field', type: 'string' }] },
] as const;
