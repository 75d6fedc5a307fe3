/**
 * The on-chain half of an upload: pay for and submit the file's Merkle nodes to the Flow
 * contract, and find the submission again later by its root (for idempotent re-uploads).
 */
import { concat, createPublicClient, createWalletClient, defineChain, http, keccak256, parseEventLogs } from 'viem';
import type { Address, Hex, LocalAccount, PublicClient } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { flowAbi, marketAbi } from '../../protocol/storage-flow-abi.ts';
import type { Submission } from '../../protocol/storage/index.ts';
import { withSerialSends } from '../serial-sends.ts';

export type Chain = { publicClient: PublicClient; rpc: string };

export function chainClient(rpc: string): Chain {
  // viem polls every 4 s over HTTP by default; a local chain mines at once.
  return { publicClient: createPublicClient({ transport: http(rpc), pollingInterval: 100 }), rpc };
}

/** What a submit needs from the chain that does not depend on the file: asked for while it hashes. */
export type SubmitContext = { chainId: number; pricePerSector: bigint };

export async function submitContext(chain: Chain, flow: Address): Promise<SubmitContext> {
  const [chainId, market] = await Promise.all([
    chain.publicClient.getChainId(),
    chain.publicClient.readContract({ address: flow, abi: flowAbi, functionName: 'market' }),
  ]);
  const pricePerSector = await chain.publicClient.readContract({ address: market, abi: marketAbi, functionName: 'pricePerSector' });
  return { chainId, pricePerSector };
}

/** Σ2^height × pricePerSector, as the FixedPrice market charges it. */
export async function submissionFee(chain: Chain, flow: Address, submission: Submission, context?: SubmitContext): Promise<bigint> {
  const price = (context ?? (await submitContext(chain, flow))).pricePerSector;
  const sectors = submission.nodes.reduce((sum, node) => sum + 2n ** BigInt(node.height), 0n);
  return sectors * price;
}

export type SubmitParameters = {
  chain: Chain;
  flow: Address;
  privateKey: Hex;
  submission: Submission;
  timeoutMs: number;
  /** Called with the hash as soon as the tx is sent, so a later failure can still report it. */
  onSent?: (txHash: Hex) => void;
  /** Chain id and price, when already known for this chain and Flow. */
  context?: SubmitContext;
  /** `privateKey`'s account, when already derived (the first derivation in a process costs ~40 ms of CPU). */
  account?: LocalAccount;
};

export type SubmitResult = { txHash: Hex; txSeq: number; reverted: boolean };

/** Sends `submit` with the fee and waits (bounded) for the receipt; txSeq is the Submit log's index. */
export async function submitFile(parameters: SubmitParameters): Promise<SubmitResult> {
  const { chain, flow, submission } = parameters;
  const account = parameters.account ?? privateKeyToAccount(parameters.privateKey);
  const context = parameters.context ?? (await submitContext(chain, flow));
  const chainId = context.chainId;
  const wallet = withSerialSends(
    createWalletClient({
      account,
      chain: defineChain({ id: chainId, name: `chain ${chainId}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [chain.rpc] } } }),
      transport: http(chain.rpc),
    }),
  );
  const value = await submissionFee(chain, flow, submission, context);
  const nodes = submission.nodes.map((node) => ({ root: node.root, height: BigInt(node.height) }));
  const txHash = await wallet.writeContract({
    address: flow,
    abi: flowAbi,
    functionName: 'submit',
    args: [{ data: { length: BigInt(submission.length), tags: '0x', nodes }, submitter: account.address }],
    value,
  });
  parameters.onSent?.(txHash);
  const receipt = await chain.publicClient.waitForTransactionReceipt({ hash: txHash, timeout: parameters.timeoutMs, pollingInterval: 100 });
  if (receipt.status !== 'success') return { txHash, txSeq: -1, reverted: true };
  // Only logs of the Flow itself: another contract could emit a look-alike event in the same tx.
  const ours = receipt.logs.filter((log) => log.address.toLowerCase() === flow.toLowerCase());
  const [event] = parseEventLogs({ abi: flowAbi, eventName: 'Submit', logs: ours });
  if (!event) return { txHash, txSeq: -1, reverted: true };
  return { txHash, txSeq: Number(event.args.submissionIndex), reverted: false };
}

/**
 * The hash of the tx that made submission `txSeq` of this file, from the Flow's Submit logs
 * (their indexed identity is keccak256 over the node roots). Undefined when the chain cannot
 * answer; callers use it only to report a hash for a file that was already stored.
 */
export async function findSubmitTx(chain: Chain, flow: Address, submission: Submission, txSeq: number): Promise<Hex | undefined> {
  const identity = keccak256(concat(submission.nodes.map((node) => node.root)));
  const events = await chain.publicClient
    .getContractEvents({ address: flow, abi: flowAbi, eventName: 'Submit', args: { identity }, fromBlock: 0n })
    .catch(() => []);
  return events.find((event) => Number(event.args.submissionIndex) === txSeq)?.transactionHash ?? undefined;
}
