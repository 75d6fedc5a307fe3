import { parseAbi } from 'viem';

/**
 * The slice of 0G's Flow and market ABI that clients and storage nodes rely on. The event
 * signature decides topic0 (0x167ce04d…5555), which the SDKs and nodes match on.
 */
export const flowAbi = parseAbi([
  'struct SubmissionNode { bytes32 root; uint256 height; }',
  'struct SubmissionData { uint256 length; bytes tags; SubmissionNode[] nodes; }',
  'struct Submission { SubmissionData data; address submitter; }',
  'event Submit(address indexed sender, bytes32 indexed identity, uint256 submissionIndex, uint256 startPos, uint256 length, SubmissionData submission)',
  'function submit(Submission submission) payable returns (uint256 index, bytes32 digest, uint256 startIndex, uint256 length)',
  'function market() view returns (address)',
]);

export const marketAbi = parseAbi(['function pricePerSector() view returns (uint256)']);

export const SUBMIT_TOPIC = '0x167ce04d2aa1981994d3a31695da0d785373335b1078cec239a1a3a2c7675555';
