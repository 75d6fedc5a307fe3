/**
 * Test support for the Flow and Market contract tests: the spec's model of padding and
 * placement, and helpers over a fresh EVM (module state, set up once per test file).
 */
import assert from 'node:assert/strict';
import { concatHex, keccak256, parseEventLogs, toFunctionSelector, toHex } from 'viem';
import type { Abi, AbiFunction, Address, Hex, PublicClient, TransactionReceipt } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import type { HDAccount } from 'viem/accounts';
import type { ContractArtifact } from './compile-contracts.ts';
import { startTestEvm } from './test-evm.ts';
import type { TestEvm, TestWallet } from './test-evm.ts';

export const MNEMONIC = 'test test test test test test test test test test test junk';

// Signatures as 0G's SDKs encode them (spec storage.md §3.5).
export const SUBMISSION_DATA = '(uint256,bytes,(bytes32,uint256)[])';
export const SUBMISSION = `(${SUBMISSION_DATA},address)`;
export const SUBMIT = `submit(${SUBMISSION})`;
export const BATCH_SUBMIT = `batchSubmit(${SUBMISSION}[])`;
export const LEGACY_SUBMIT = `submit(${SUBMISSION_DATA})`;
export const LEGACY_BATCH_SUBMIT = `batchSubmit(${SUBMISSION_DATA}[])`;
export const SUBMIT_TOPIC = '0x167ce04d2aa1981994d3a31695da0d785373335b1078cec239a1a3a2c7675555';

export type Node = { root: Hex; height: bigint };
export type SubmissionData = { length: bigint; tags: Hex; nodes: Node[] };
export type SubmitEvent = {
  sender: Address;
  identity: Hex;
  submissionIndex: bigint;
  startPos: bigint;
  length: bigint;
  submission: SubmissionData;
};
export type SubmitResult = readonly [bigint, Hex, bigint, bigint];
export type BatchResult = readonly [readonly bigint[], readonly Hex[], readonly bigint[], readonly bigint[]];

// ------------------------------------------------------------------ spec model (§4.2, §4.4, §4.8)

/** computePaddedSize: chunks, rounded up to 1/16 of the next power of two from 16 chunks on. */
export function paddedChunks(size: number): number {
  const chunks = Math.ceil(size / 256);
  if ((chunks & (chunks - 1)) === 0) return chunks;
  let p2 = 1;
  while (p2 < chunks) p2 *= 2;
  const step = p2 >= 16 ? p2 / 16 : 1;
  return Math.ceil(chunks / step) * step;
}

/** The node heights of a padded chunk count: its set bits, tallest first. */
export function heightsOf(padded: number): number[] {
  const heights: number[] = [];
  for (let h = 52; h >= 0; h--) if (padded >= 2 ** h && Math.floor(padded / 2 ** h) % 2 === 1) heights.push(h);
  return heights;
}

/** A submission the way the SDK builds it. The contract never checks roots, so any distinct values do. */
export function dataFor(size: number, salt: string): SubmissionData {
  const nodes = heightsOf(paddedChunks(size)).map((h, i) => ({ root: keccak256(toHex(`${salt}/${i}`)), height: BigInt(h) }));
  return { length: BigInt(size), tags: '0x', nodes };
}

export function sectorsOf(data: SubmissionData): bigint {
  return data.nodes.reduce((sum, n) => sum + (1n << n.height), 0n);
}

export function identityOf(data: SubmissionData): Hex {
  return keccak256(concatHex(data.nodes.map((n) => n.root)));
}

/** FlowTreeLib placement exactly as §4.8 words it, node by node. */
export function place(current: bigint, heights: readonly bigint[]): { start: bigint; end: bigint } {
  const align = (x: bigint, h: bigint) => ((x + (1n << h) - 1n) >> h) << h;
  const sectors = heights.reduce((sum, h) => sum + (1n << h), 0n);
  let start = align(current, heights[0]!);
  if (start % 1024n !== 0n && start / 1024n !== (start + sectors - 1n) / 1024n) start = align(start, 10n);
  let cursor = start;
  for (const h of heights) cursor = align(cursor, h) + (1n << h);
  return { start, end: cursor };
}

/** Deterministic sizes from 1 B to ~6 MiB, spread over scales so heights 0..14 all occur. */
export function randomSizes(count: number, seed: number): number[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, () => 1 + Math.floor(next() * 2 ** Math.floor(next() * 23)));
}

let evm: TestEvm;
export let publicClient: PublicClient;
export let flowArtifact: ContractArtifact;
export let marketArtifact: ContractArtifact;
/** Flow's ABI plus Market's errors and events, so errors bubbled up from the market decode. */
export let abi: Abi;
export const [alice, bob, carol] = [0, 1, 2].map((addressIndex) => mnemonicToAccount(MNEMONIC, { addressIndex })) as [
  HDAccount,
  HDAccount,
  HDAccount,
];
export const PRICE = 1_000_000_000n;

/** Starts a fresh EVM for one test file (each file runs in its own process). */
export async function setUpFlowChain(): Promise<void> {
  evm = await startTestEvm();
  flowArtifact = evm.compiled.contracts.Flow!;
  marketArtifact = evm.compiled.contracts.Market!;
  abi = [...flowArtifact.abi, ...marketArtifact.abi.filter((item) => item.type === 'error' || item.type === 'event')];
  publicClient = evm.publicClient;
}

export async function tearDownFlowChain(): Promise<void> {
  await evm?.close();
}

export function wallet(account: HDAccount): TestWallet {
  return evm.wallet(account);
}

export function deploy(artifact: ContractArtifact, args: readonly unknown[]): Promise<Address> {
  return evm.deploy(artifact, args, alice);
}

/** A fresh Market(price) and Flow(market), wired, so each test sees an empty flow. */
export async function deployPair(price = PRICE): Promise<{ market: Address; flow: Address }> {
  const market = await deploy(marketArtifact, [price]);
  const flow = await deploy(flowArtifact, [market]);
  await send(alice, market, 'setFlow', [flow]);
  return { market, flow };
}

/** The ABI with only the overload `signature` among functions, so viem never has to pick one. */
export function abiFor(signature: string): Abi {
  const fn = abi.find((item): item is AbiFunction => item.type === 'function' && toFunctionSelector(item) === toFunctionSelector(signature));
  assert.ok(fn, `no ${signature} in the ABI`);
  return [fn, ...abi.filter((item) => item.type !== 'function')];
}

export function abiOf(functionName: string): Abi {
  return [...abi, ...marketArtifact.abi.filter((item) => item.type === 'function')].filter(
    (item) => item.type !== 'function' || item.name === functionName,
  );
}

export async function send(account: HDAccount, address: Address, functionName: string, args: readonly unknown[], value?: bigint) {
  return sendTo(account, address, abiOf(functionName), functionName, args, value);
}

export async function sendTo(
  account: HDAccount,
  address: Address,
  fnAbi: Abi,
  functionName: string,
  args: readonly unknown[],
  value?: bigint,
): Promise<TransactionReceipt> {
  const hash = await wallet(account).writeContract({ address, abi: fnAbi, functionName, args, value });
  const receipt = await publicClient.getTransactionReceipt({ hash });
  assert.equal(receipt.status, 'success');
  return receipt;
}

export function write(account: HDAccount, address: Address, fnAbi: Abi, functionName: string, args: readonly unknown[], value?: bigint) {
  return wallet(account).writeContract({ address, abi: fnAbi, functionName, args, value });
}

export function read<T>(address: Address, functionName: string, args: readonly unknown[] = []): Promise<T> {
  return publicClient.readContract({ address, abi: abiOf(functionName), functionName, args }) as Promise<T>;
}

/** Simulates then sends a call, returning what it returned and its receipt. */
export async function call<T>(account: HDAccount, address: Address, signature: string, args: readonly unknown[], value = 0n) {
  const fnAbi = abiFor(signature);
  const name = signature.slice(0, signature.indexOf('('));
  const { result } = await publicClient.simulateContract({ account, address, abi: fnAbi, functionName: name, args, value });
  const receipt = await sendTo(account, address, fnAbi, name, args, value);
  return { result: result as T, receipt };
}

export function submitEvents(receipt: TransactionReceipt): SubmitEvent[] {
  return parseEventLogs({ abi, logs: receipt.logs, eventName: 'Submit' }).map((e) => e.args as unknown as SubmitEvent);
}

export async function submit(account: HDAccount, flow: Address, data: SubmissionData, submitter: Address = account.address) {
  const value = sectorsOf(data) * PRICE;
  return call<SubmitResult>(account, flow, SUBMIT, [{ data, submitter }], value);
}

export const balance = (address: Address) => publicClient.getBalance({ address });
export const gasCost = (r: TransactionReceipt) => r.gasUsed * r.effectiveGasPrice;
