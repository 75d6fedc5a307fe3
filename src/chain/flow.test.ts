import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHardhatRuntimeEnvironment } from 'hardhat/hre';
import type { NetworkConnection } from 'hardhat/types/network';
import {
  BaseError,
  ContractFunctionRevertedError,
  concatHex,
  createPublicClient,
  createWalletClient,
  custom,
  getAddress,
  keccak256,
  parseEventLogs,
  toEventSelector,
  toFunctionSelector,
  toHex,
  zeroAddress,
} from 'viem';
import type { Abi, AbiFunction, Address, Hex, PublicClient, TransactionReceipt } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import type { HDAccount } from 'viem/accounts';
import { hardhat } from 'viem/chains';
import { compileContracts } from './compile-contracts.ts';
import type { ContractArtifact } from './compile-contracts.ts';

const MNEMONIC = 'test test test test test test test test test test test junk';

// Signatures as 0G's SDKs encode them (spec storage.md §3.5).
const SUBMISSION_DATA = '(uint256,bytes,(bytes32,uint256)[])';
const SUBMISSION = `(${SUBMISSION_DATA},address)`;
const SUBMIT = `submit(${SUBMISSION})`;
const BATCH_SUBMIT = `batchSubmit(${SUBMISSION}[])`;
const LEGACY_SUBMIT = `submit(${SUBMISSION_DATA})`;
const LEGACY_BATCH_SUBMIT = `batchSubmit(${SUBMISSION_DATA}[])`;
const SUBMIT_TOPIC = '0x167ce04d2aa1981994d3a31695da0d785373335b1078cec239a1a3a2c7675555';

type Node = { root: Hex; height: bigint };
type SubmissionData = { length: bigint; tags: Hex; nodes: Node[] };
type SubmitEvent = {
  sender: Address;
  identity: Hex;
  submissionIndex: bigint;
  startPos: bigint;
  length: bigint;
  submission: SubmissionData;
};
type SubmitResult = readonly [bigint, Hex, bigint, bigint];
type BatchResult = readonly [readonly bigint[], readonly Hex[], readonly bigint[], readonly bigint[]];

// ------------------------------------------------------------------ spec model (§4.2, §4.4, §4.8)

/** computePaddedSize: chunks, rounded up to 1/16 of the next power of two from 16 chunks on. */
function paddedChunks(size: number): number {
  const chunks = Math.ceil(size / 256);
  if ((chunks & (chunks - 1)) === 0) return chunks;
  let p2 = 1;
  while (p2 < chunks) p2 *= 2;
  const step = p2 >= 16 ? p2 / 16 : 1;
  return Math.ceil(chunks / step) * step;
}

/** The node heights of a padded chunk count: its set bits, tallest first. */
function heightsOf(padded: number): number[] {
  const heights: number[] = [];
  for (let h = 52; h >= 0; h--) if (padded >= 2 ** h && Math.floor(padded / 2 ** h) % 2 === 1) heights.push(h);
  return heights;
}

/** A submission the way the SDK builds it. The contract never checks roots, so any distinct values do. */
function dataFor(size: number, salt: string): SubmissionData {
  const nodes = heightsOf(paddedChunks(size)).map((h, i) => ({ root: keccak256(toHex(`${salt}/${i}`)), height: BigInt(h) }));
  return { length: BigInt(size), tags: '0x', nodes };
}

function sectorsOf(data: SubmissionData): bigint {
  return data.nodes.reduce((sum, n) => sum + (1n << n.height), 0n);
}

function identityOf(data: SubmissionData): Hex {
  return keccak256(concatHex(data.nodes.map((n) => n.root)));
}

/** FlowTreeLib placement exactly as §4.8 words it, node by node. */
function place(current: bigint, heights: readonly bigint[]): { start: bigint; end: bigint } {
  const align = (x: bigint, h: bigint) => ((x + (1n << h) - 1n) >> h) << h;
  const sectors = heights.reduce((sum, h) => sum + (1n << h), 0n);
  let start = align(current, heights[0]!);
  if (start % 1024n !== 0n && start / 1024n !== (start + sectors - 1n) / 1024n) start = align(start, 10n);
  let cursor = start;
  for (const h of heights) cursor = align(cursor, h) + (1n << h);
  return { start, end: cursor };
}

/** Deterministic sizes from 1 B to ~6 MiB, spread over scales so heights 0..14 all occur. */
function randomSizes(count: number, seed: number): number[] {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from({ length: count }, () => 1 + Math.floor(next() * 2 ** Math.floor(next() * 23)));
}

// ------------------------------------------------------------------ tests

describe('Flow and Market', () => {
  let tmp: string;
  let conn: NetworkConnection;
  let publicClient: PublicClient;
  let flowArtifact: ContractArtifact;
  let marketArtifact: ContractArtifact;
  /** Flow's ABI plus Market's errors and events, so errors bubbled up from the market decode. */
  let abi: Abi;
  const [alice, bob, carol] = [0, 1, 2].map((addressIndex) => mnemonicToAccount(MNEMONIC, { addressIndex })) as [
    HDAccount,
    HDAccount,
    HDAccount,
  ];
  const PRICE = 1_000_000_000n;

  before(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'levity-flow-'));
    const compiled = await compileContracts({
      sourcesDir: path.join(import.meta.dirname, '../../contracts'),
      cacheDir: path.join(tmp, 'cache'),
    });
    assert.ok(compiled.contracts.Flow && compiled.contracts.Market);
    flowArtifact = compiled.contracts.Flow;
    marketArtifact = compiled.contracts.Market;
    abi = [...flowArtifact.abi, ...marketArtifact.abi.filter((item) => item.type === 'error' || item.type === 'event')];

    // Hardhat resolves its project root through the nearest package.json and refuses a dir without one.
    await writeFile(path.join(tmp, 'package.json'), JSON.stringify({ name: 'levity-test-chain', private: true, type: 'module' }));
    const hre = await createHardhatRuntimeEnvironment(
      {
        networks: {
          default: {
            type: 'edr-simulated',
            chainId: 31337,
            hardfork: 'prague',
            accounts: { mnemonic: MNEMONIC, count: 10, accountsBalance: 10n ** 22n },
          },
        },
      },
      {},
      tmp,
    );
    conn = await hre.network.create();
    publicClient = createPublicClient({ chain: hardhat, transport: transport() });
  });

  after(async () => {
    await conn?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  // Never retry: an in-process chain never fails transiently, and viem would back off ~1 s per
  // expected revert (see node-registry.test.ts).
  function transport() {
    return custom(conn.provider, { retryCount: 0 });
  }

  function wallet(account: HDAccount) {
    return createWalletClient({ account, chain: hardhat, transport: transport() });
  }

  async function deploy(artifact: ContractArtifact, args: readonly unknown[]): Promise<Address> {
    const hash = await wallet(alice).deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args });
    const receipt = await publicClient.getTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    assert.ok(receipt.contractAddress);
    return getAddress(receipt.contractAddress);
  }

  /** A fresh Market(price) and Flow(market), wired, so each test sees an empty flow. */
  async function deployPair(price = PRICE): Promise<{ market: Address; flow: Address }> {
    const market = await deploy(marketArtifact, [price]);
    const flow = await deploy(flowArtifact, [market]);
    await send(alice, market, 'setFlow', [flow]);
    return { market, flow };
  }

  /** The ABI with only the overload `signature` among functions, so viem never has to pick one. */
  function abiFor(signature: string): Abi {
    const fn = abi.find((item): item is AbiFunction => item.type === 'function' && toFunctionSelector(item) === toFunctionSelector(signature));
    assert.ok(fn, `no ${signature} in the ABI`);
    return [fn, ...abi.filter((item) => item.type !== 'function')];
  }

  function abiOf(functionName: string): Abi {
    return [...abi, ...marketArtifact.abi.filter((item) => item.type === 'function')].filter(
      (item) => item.type !== 'function' || item.name === functionName,
    );
  }

  async function send(account: HDAccount, address: Address, functionName: string, args: readonly unknown[], value?: bigint) {
    return sendTo(account, address, abiOf(functionName), functionName, args, value);
  }

  async function sendTo(
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

  function write(account: HDAccount, address: Address, fnAbi: Abi, functionName: string, args: readonly unknown[], value?: bigint) {
    return wallet(account).writeContract({ address, abi: fnAbi, functionName, args, value });
  }

  function read<T>(address: Address, functionName: string, args: readonly unknown[] = []): Promise<T> {
    return publicClient.readContract({ address, abi: abiOf(functionName), functionName, args }) as Promise<T>;
  }

  /** Simulates then sends a call, returning what it returned and its receipt. */
  async function call<T>(account: HDAccount, address: Address, signature: string, args: readonly unknown[], value = 0n) {
    const fnAbi = abiFor(signature);
    const name = signature.slice(0, signature.indexOf('('));
    const { result } = await publicClient.simulateContract({ account, address, abi: fnAbi, functionName: name, args, value });
    const receipt = await sendTo(account, address, fnAbi, name, args, value);
    return { result: result as T, receipt };
  }

  function submitEvents(receipt: TransactionReceipt): SubmitEvent[] {
    return parseEventLogs({ abi, logs: receipt.logs, eventName: 'Submit' }).map((e) => e.args as unknown as SubmitEvent);
  }

  async function submit(account: HDAccount, flow: Address, data: SubmissionData, submitter: Address = account.address) {
    const value = sectorsOf(data) * PRICE;
    return call<SubmitResult>(account, flow, SUBMIT, [{ data, submitter }], value);
  }

  /** Asserts that `action` reverts with the custom error `errorName` (and `args`, if given). */
  async function assertReverts(action: Promise<unknown>, errorName: string, args?: readonly unknown[]) {
    await assert.rejects(action, (err: unknown) => {
      assert.ok(err instanceof BaseError, String(err));
      const reverted = err.walk((e) => e instanceof ContractFunctionRevertedError);
      assert.ok(reverted instanceof ContractFunctionRevertedError, err.message);
      assert.equal(reverted.data?.errorName, errorName);
      if (args) assert.deepEqual(reverted.data?.args ?? [], args);
      return true;
    });
  }

  const balance = (address: Address) => publicClient.getBalance({ address });
  const gasCost = (r: TransactionReceipt) => r.gasUsed * r.effectiveGasPrice;

  describe('ABI', () => {
    it('has the selectors and Submit topic of 0G Flow and FixedPrice', () => {
      const selectors = (a: Abi) =>
        new Map(a.filter((i): i is AbiFunction => i.type === 'function').map((i) => [toFunctionSelector(i), i.name]));
      const flowSelectors = selectors(flowArtifact.abi);
      assert.equal(flowSelectors.get('0xbc8c11f8'), 'submit');
      assert.equal(flowSelectors.get('0x49aa3395'), 'batchSubmit');
      assert.equal(flowSelectors.get('0xef3e12dc'), 'submit');
      assert.equal(flowSelectors.get('0x9e62a38e'), 'batchSubmit');
      assert.equal(flowSelectors.get('0x80f55605'), 'market');
      assert.equal(selectors(marketArtifact.abi).get('0x61ec5082'), 'pricePerSector');
      // The signatures spelled out in the spec hash to those selectors.
      assert.equal(toFunctionSelector(SUBMIT), '0xbc8c11f8');
      assert.equal(toFunctionSelector(BATCH_SUBMIT), '0x49aa3395');
      assert.equal(toFunctionSelector(LEGACY_SUBMIT), '0xef3e12dc');
      assert.equal(toFunctionSelector(LEGACY_BATCH_SUBMIT), '0x9e62a38e');

      const submitEvent = flowArtifact.abi.find((i) => i.type === 'event' && i.name === 'Submit');
      assert.ok(submitEvent?.type === 'event');
      assert.equal(toEventSelector(submitEvent), SUBMIT_TOPIC);
      assert.deepEqual(
        submitEvent.inputs.map((i) => [i.name, i.indexed ?? false]),
        [
          ['sender', true],
          ['identity', true],
          ['submissionIndex', false],
          ['startPos', false],
          ['length', false],
          ['submission', false],
        ],
      );
    });

    it('starts empty with market() pointing at the market', async () => {
      const { market, flow } = await deployPair();
      assert.equal(await read<Address>(flow, 'market'), market);
      assert.equal(await read<bigint>(market, 'pricePerSector'), PRICE);
      assert.equal(await read<Address>(market, 'flow'), flow);
      assert.equal(await read<Address>(market, 'owner'), alice.address);
      assert.equal(await read<bigint>(flow, 'currentLength'), 1n);
      assert.equal(await read<bigint>(flow, 'numSubmissions'), 0n);
      await assertReverts(read(flow, 'submissionAt', [0n]), 'UnknownSubmission', [0n]);
      // viem does not decode errors of a deployment; match the raw ZeroMarket() selector.
      await assert.rejects(deploy(flowArtifact, [zeroAddress]), (err: Error) => err.message.includes(toFunctionSelector('ZeroMarket()')));
    });
  });

  describe('submit', () => {
    it('appends the spec vectors with sequential indexes, 0G placement and the Submit event', async (t) => {
      const { flow } = await deployPair();
      const big = dataFor(262145, 'big');
      assert.deepEqual(
        big.nodes.map((n) => n.height),
        [10n, 7n],
      );

      const first = await submit(bob, flow, big);
      // A height-10 first node aligns to 1024; sector 0 is never used.
      assert.deepEqual(first.result, [0n, identityOf(big), 1024n, 1152n]);
      assert.deepEqual(submitEvents(first.receipt), [
        { sender: bob.address, identity: identityOf(big), submissionIndex: 0n, startPos: 1024n, length: 1152n, submission: big },
      ]);
      const [log] = first.receipt.logs.filter((l) => l.address.toLowerCase() === flow.toLowerCase());
      assert.equal(log?.topics[0], SUBMIT_TOPIC);
      t.diagnostic(`submit gas, 2 nodes, first in the flow: ${first.receipt.gasUsed}`);

      const one = dataFor(1, 'one');
      assert.deepEqual(
        one.nodes.map((n) => n.height),
        [0n],
      );
      const second = await submit(bob, flow, one);
      assert.deepEqual(second.result, [1n, identityOf(one), 2176n, 1n]);
      assert.equal(submitEvents(second.receipt)[0]?.submissionIndex, 1n);
      t.diagnostic(`submit gas, 1 node: ${second.receipt.gasUsed}`);

      assert.equal(await read<bigint>(flow, 'numSubmissions'), 2n);
      assert.equal(await read<bigint>(flow, 'currentLength'), 2177n);
      assert.deepEqual(await read(flow, 'submissionAt', [0n]), [identityOf(big), 1024n, 1152n, 262145n, first.receipt.blockNumber]);
      assert.deepEqual(await read(flow, 'submissionAt', [1n]), [identityOf(one), 2176n, 1n, 1n, second.receipt.blockNumber]);
    });

    it('moves a file that would straddle a segment to the next segment boundary (spec §4.8 example)', async () => {
      const { flow } = await deployPair();
      // 1 B → [0] at 1; 257 B → [1] at 2; 1000 B → [2] at 4; 6 chunks → [2,1] at 8..14.
      const starts: bigint[] = [];
      for (const size of [1, 257, 1000, 5 * 256 + 1]) starts.push((await submit(bob, flow, dataFor(size, `s${size}`))).result[2]);
      assert.deepEqual(starts, [1n, 2n, 4n, 8n]);
      assert.equal(await read<bigint>(flow, 'currentLength'), 14n);

      // 577 chunks pad to 640 = 512+128; aligned to 512 it would cover [512,1152), across 1024.
      const file = dataFor(577 * 256, 'straddler');
      assert.deepEqual(
        file.nodes.map((n) => n.height),
        [9n, 7n],
      );
      const { result } = await submit(bob, flow, file);
      assert.equal(result[2], 1024n);
      assert.equal(await read<bigint>(flow, 'currentLength'), 1664n);

      // Files that fit in the rest of their segment are not moved: [0] at 1664, then [4] at
      // 1665 aligned to 16.
      assert.equal((await submit(bob, flow, dataFor(1, 'a'))).result[2], 1664n);
      assert.equal((await submit(bob, flow, dataFor(16 * 256 - 100, 'b'))).result[2], 1680n);
    });

    it('places random files exactly where the node-by-node spec model does', async () => {
      const { flow } = await deployPair();
      const items = randomSizes(60, 7).map((size, i) => ({ data: dataFor(size, `r${i}`), submitter: carol.address }));
      const value = items.reduce((sum, item) => sum + sectorsOf(item.data), 0n) * PRICE;
      const { receipt } = await call<BatchResult>(bob, flow, BATCH_SUBMIT, [items], value);

      let current = 1n;
      const expected = items.map((item, i) => {
        const { start, end } = place(
          current,
          item.data.nodes.map((n) => n.height),
        );
        current = end;
        return [BigInt(i), start, sectorsOf(item.data)];
      });
      assert.deepEqual(
        submitEvents(receipt).map((e) => [e.submissionIndex, e.startPos, e.length]),
        expected,
      );
      assert.equal(await read<bigint>(flow, 'currentLength'), current);
      // Every SDK-padded size passed validation, heights up to 14 included.
      assert.ok(items.some((item) => item.data.nodes[0]!.height >= 12n));
    });
  });

  describe('fees', () => {
    it('accepts exactly Σ2^h × price and forwards it to the market', async () => {
      const { market, flow } = await deployPair();
      const data = dataFor(300000, 'fee'); // [10,8]: 1280 sectors
      const fee = 1280n * PRICE;
      const before = await balance(bob.address);
      const { receipt } = await call<SubmitResult>(bob, flow, SUBMIT, [{ data, submitter: bob.address }], fee);
      assert.equal(await balance(market), fee);
      assert.equal(await balance(flow), 0n);
      assert.equal(await read<bigint>(market, 'totalFees'), fee);
      assert.equal(before - (await balance(bob.address)), fee + gasCost(receipt));
      const [charged] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'FeesCharged' });
      assert.deepEqual(charged?.args, { sectors: 1280n, amount: fee });
    });

    it('reverts NotEnoughFee(price, sectors, paid) when underpaid', async () => {
      const { flow } = await deployPair();
      const data = dataFor(300000, 'cheap');
      const fee = 1280n * PRICE;
      await assertReverts(write(bob, flow, abiFor(SUBMIT), 'submit', [{ data, submitter: bob.address }], fee - 1n), 'NotEnoughFee', [
        PRICE,
        1280n,
        fee - 1n,
      ]);
      await assertReverts(write(bob, flow, abiFor(SUBMIT), 'submit', [{ data, submitter: bob.address }]), 'NotEnoughFee', [PRICE, 1280n, 0n]);
      assert.equal(await read<bigint>(flow, 'numSubmissions'), 0n);
    });

    it('refunds what was paid beyond the fee', async () => {
      const { market, flow } = await deployPair();
      const data = dataFor(1, 'generous');
      const before = await balance(bob.address);
      const { receipt } = await call<SubmitResult>(bob, flow, SUBMIT, [{ data, submitter: bob.address }], 10n ** 18n);
      assert.equal(before - (await balance(bob.address)), PRICE + gasCost(receipt));
      assert.equal(await balance(market), PRICE);
      assert.equal(await balance(flow), 0n);
    });

    it('is free at price 0', async () => {
      const { market, flow } = await deployPair(0n);
      const { result } = await call<SubmitResult>(bob, flow, SUBMIT, [{ data: dataFor(4096, 'free'), submitter: bob.address }]);
      assert.equal(result[0], 0n);
      assert.equal(await read<bigint>(market, 'totalFees'), 0n);
    });

    it('uses the price at submission time, which only the owner can set', async () => {
      const { market, flow } = await deployPair();
      await assertReverts(write(bob, market, abiOf('setPricePerSector'), 'setPricePerSector', [1n]), 'NotOwner', [bob.address]);
      const receipt = await send(alice, market, 'setPricePerSector', [3n * PRICE]);
      const [changed] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'PricePerSectorChanged' });
      assert.deepEqual(changed?.args, { previousPrice: PRICE, newPrice: 3n * PRICE });
      assert.equal(await read<bigint>(market, 'pricePerSector'), 3n * PRICE);

      const data = { data: dataFor(1000, 'pricier'), submitter: bob.address }; // 4 sectors
      await assertReverts(write(bob, flow, abiFor(SUBMIT), 'submit', [data], 4n * PRICE), 'NotEnoughFee', [3n * PRICE, 4n, 4n * PRICE]);
      await call(bob, flow, SUBMIT, [data], 12n * PRICE);
      assert.equal(await balance(market), 12n * PRICE);
    });

    it('lets only the flow charge fees and only the owner rebind the flow or withdraw', async () => {
      const { market, flow } = await deployPair();
      await call(bob, flow, SUBMIT, [{ data: dataFor(262144, 'w'), submitter: bob.address }], 1024n * PRICE);

      await assertReverts(write(bob, market, abiOf('chargeFee'), 'chargeFee', [1n], PRICE), 'NotFlow', [bob.address]);
      await assertReverts(write(bob, market, abiOf('setFlow'), 'setFlow', [bob.address]), 'NotOwner', [bob.address]);
      await assertReverts(write(alice, market, abiOf('setFlow'), 'setFlow', [zeroAddress]), 'ZeroAddress');
      await assertReverts(write(bob, market, abiOf('withdraw'), 'withdraw', [bob.address, 1n]), 'NotOwner', [bob.address]);
      await assertReverts(write(alice, market, abiOf('withdraw'), 'withdraw', [carol.address, 1025n * PRICE]), 'InsufficientBalance', [
        1025n * PRICE,
        1024n * PRICE,
      ]);

      const before = await balance(carol.address);
      const receipt = await send(alice, market, 'withdraw', [carol.address, 1000n * PRICE]);
      assert.equal((await balance(carol.address)) - before, 1000n * PRICE);
      assert.equal(await balance(market), 24n * PRICE);
      assert.deepEqual(parseEventLogs({ abi, logs: receipt.logs, eventName: 'Withdrawn' })[0]?.args, { to: carol.address, amount: 1000n * PRICE });
      assert.equal(await read<bigint>(market, 'totalFees'), 1024n * PRICE, 'totalFees counts fees received, not held');

      // A second Flow on the same market is refused until the owner rebinds the market to it;
      // the market's error bubbles up through the flow.
      const other = await deploy(flowArtifact, [market]);
      const item = { data: dataFor(1, 'other'), submitter: bob.address };
      await assertReverts(write(bob, other, abiFor(SUBMIT), 'submit', [item], PRICE), 'NotFlow', [other]);
      const rebind = await send(alice, market, 'setFlow', [other]);
      assert.deepEqual(parseEventLogs({ abi, logs: rebind.logs, eventName: 'FlowChanged' })[0]?.args, {
        previousFlow: flow,
        newFlow: other,
      });
      await call(bob, other, SUBMIT, [item], PRICE);
      await assertReverts(write(bob, flow, abiFor(SUBMIT), 'submit', [item], PRICE), 'NotFlow', [flow]);
    });
  });

  describe('validation (SubmissionLibrary.valid)', () => {
    let flow: Address;
    before(async () => {
      ({ flow } = await deployPair(0n));
    });

    const node = (height: number, i = 0): Node => ({ root: keccak256(toHex(`v${height}/${i}`)), height: BigInt(height) });
    const data = (length: number | bigint, heights: number[]): SubmissionData => ({
      length: BigInt(length),
      tags: '0x',
      nodes: heights.map((h, i) => node(h, i)),
    });
    const attempt = (d: SubmissionData, submitter: Address = bob.address) => write(bob, flow, abiFor(SUBMIT), 'submit', [{ data: d, submitter }]);
    const accept = async (d: SubmissionData) => (await call<SubmitResult>(bob, flow, SUBMIT, [{ data: d, submitter: bob.address }])).result;

    it('rejects a zero submitter', async () => {
      await assertReverts(attempt(data(1, [0]), zeroAddress), 'ZeroSubmitter');
    });

    it('rejects a submission without nodes', async () => {
      await assertReverts(attempt(data(1, [])), 'NoNodes');
    });

    it('rejects length 0', async () => {
      await assertReverts(attempt(data(0, [0])), 'EmptySubmission');
    });

    it('rejects a first height of 64 or more', async () => {
      await assertReverts(attempt(data(1, [64])), 'HeightTooLarge', [64n]);
      await assertReverts(attempt(data(1, [300])), 'HeightTooLarge', [300n]);
    });

    it('rejects heights that do not strictly decrease', async () => {
      await assertReverts(attempt(data(3 * 256, [1, 1])), 'HeightsNotDecreasing', [1n, 1n, 1n]);
      await assertReverts(attempt(data(7 * 256, [1, 2])), 'HeightsNotDecreasing', [1n, 1n, 2n]);
      await assertReverts(attempt(data(11 * 256, [3, 1, 2])), 'HeightsNotDecreasing', [2n, 1n, 2n]);
    });

    it('rejects heights spread over four or more levels', async () => {
      await assertReverts(attempt(data(1088 * 256, [10, 6])), 'HeightSpreadTooLarge', [10n, 6n]);
      await assertReverts(attempt(data(17 * 256, [4, 0])), 'HeightSpreadTooLarge', [4n, 0n]);
      // A spread of exactly three levels is fine.
      assert.equal((await accept(data(1152 * 256, [10, 7])))[3], 1152n);
      await accept(data(15 * 256, [3, 2, 1, 0]));
      await accept(data(1920 * 256, [10, 9, 8, 7]));
    });

    it('rejects a length beyond the nodes’ capacity', async () => {
      await assertReverts(attempt(data(257, [0])), 'LengthExceedsCapacity', [257n, 256n]);
      await assertReverts(attempt(data(1152 * 256 + 1, [10, 7])), 'LengthExceedsCapacity', [1152n * 256n + 1n, 1152n * 256n]);
      await accept(data(1152 * 256, [10, 7]));
      await accept(data(256, [0]));
    });

    it('rejects more than the minimal padding', async () => {
      // Below 16 sectors there is no padding: the last chunk must be in the last sector.
      await assertReverts(attempt(data(256, [1])), 'ExcessPadding', [256n, 257n]);
      await accept(data(257, [1]));
      await assertReverts(attempt(data(14 * 256, [3, 2, 1, 0])), 'ExcessPadding', [14n * 256n, 14n * 256n + 1n]);
      // One node pads by at most 1/16 of itself: 1024 sectors need more than 960 chunks.
      await assertReverts(attempt(data(960 * 256, [10])), 'ExcessPadding', [960n * 256n, 960n * 256n + 1n]);
      await accept(data(960 * 256 + 1, [10]));
      await assertReverts(attempt(data(1, [10])), 'ExcessPadding', [1n, 960n * 256n + 1n]);
      // Several nodes pad by at most 2^(h_first-3): [9,7] = 640 sectors need more than 576 chunks.
      await assertReverts(attempt(data(576 * 256, [9, 7])), 'ExcessPadding', [576n * 256n, 576n * 256n + 1n]);
      await accept(data(576 * 256 + 1, [9, 7]));
      // Exactly 16 sectors as one node: the 1/16 rule, so 15 chunks are too few.
      await assertReverts(attempt(data(15 * 256, [4])), 'ExcessPadding', [15n * 256n, 15n * 256n + 1n]);
    });

    it('accepts the tallest allowed layout without overflow', async () => {
      const tallest = data((2n ** 63n + 2n ** 62n + 2n ** 61n + 2n ** 60n) * 256n, [63, 62, 61, 60]);
      const [, , start, sectors] = await accept(tallest);
      assert.equal(sectors, 2n ** 63n + 2n ** 62n + 2n ** 61n + 2n ** 60n);
      assert.equal(start % 2n ** 63n, 0n);
    });
  });

  describe('0.3.3 ABI and batches', () => {
    it('legacy submit(SubmissionData) takes msg.sender as submitter', async () => {
      const { flow } = await deployPair();
      const d = dataFor(1000, 'legacy');
      const { result, receipt } = await call<SubmitResult>(carol, flow, LEGACY_SUBMIT, [d], 4n * PRICE);
      assert.deepEqual(result, [0n, identityOf(d), 4n, 4n]);
      assert.deepEqual(submitEvents(receipt), [
        { sender: carol.address, identity: identityOf(d), submissionIndex: 0n, startPos: 4n, length: 4n, submission: d },
      ]);
      assert.equal(receipt.logs.find((l) => l.address.toLowerCase() === flow.toLowerCase())?.topics[0], SUBMIT_TOPIC);
      await assertReverts(write(carol, flow, abiFor(LEGACY_SUBMIT), 'submit', [d], 4n * PRICE - 1n), 'NotEnoughFee', [
        PRICE,
        4n,
        4n * PRICE - 1n,
      ]);
      await assertReverts(write(carol, flow, abiFor(LEGACY_SUBMIT), 'submit', [dataFor(1, 'x')].map((x) => ({ ...x, nodes: [] }))), 'NoNodes');
    });

    it('batchSubmit returns per-item arrays, emits one Submit each and charges the total', async () => {
      const { market, flow } = await deployPair();
      const items = [dataFor(262145, 'b0'), dataFor(1, 'b1'), dataFor(5242881, 'b2')];
      const sectors = items.map(sectorsOf);
      assert.deepEqual(sectors, [1152n, 1n, 22528n]);
      const total = sectors.reduce((a, b) => a + b, 0n) * PRICE;
      const args = [items.map((data) => ({ data, submitter: carol.address }))];

      await assertReverts(write(bob, flow, abiFor(BATCH_SUBMIT), 'batchSubmit', args, total - 1n), 'NotEnoughFee', [
        PRICE,
        23681n,
        total - 1n,
      ]);
      const before = await balance(bob.address);
      const { result, receipt } = await call<BatchResult>(bob, flow, BATCH_SUBMIT, args, total + 5n);
      assert.deepEqual(result[0], [0n, 1n, 2n]);
      assert.deepEqual(result[1], items.map(identityOf));
      // [10,7] at 1024; [0] right after at 2176; [14,12,11] aligned to the next multiple of 2^14.
      assert.deepEqual(result[2], [1024n, 2176n, 16384n]);
      assert.deepEqual(result[3], sectors);
      assert.deepEqual(
        submitEvents(receipt).map((e) => [e.sender, e.identity, e.submissionIndex, e.startPos, e.length]),
        items.map((d, i) => [bob.address, identityOf(d), BigInt(i), result[2][i], sectors[i]]),
      );
      assert.equal(before - (await balance(bob.address)), total + gasCost(receipt), 'the 5 wei excess is refunded');
      assert.equal(await balance(market), total);
      assert.equal(parseEventLogs({ abi, logs: receipt.logs, eventName: 'FeesCharged' }).length, 1, 'one payment per batch');

      // One bad item fails the whole batch.
      const bad = [...args[0]!, { data: dataFor(1, 'b3'), submitter: zeroAddress }];
      await assertReverts(write(bob, flow, abiFor(BATCH_SUBMIT), 'batchSubmit', [bad], total * 2n), 'ZeroSubmitter');
      assert.equal(await read<bigint>(flow, 'numSubmissions'), 3n);
    });

    it('legacy batchSubmit(SubmissionData[]) works the same with msg.sender', async () => {
      const { flow } = await deployPair();
      const items = [dataFor(256, 'l0'), dataFor(257, 'l1')];
      const { result, receipt } = await call<BatchResult>(carol, flow, LEGACY_BATCH_SUBMIT, [items], 3n * PRICE);
      assert.deepEqual(result, [[0n, 1n], items.map(identityOf), [1n, 2n], [1n, 2n]]);
      assert.deepEqual(
        submitEvents(receipt).map((e) => [e.sender, e.submissionIndex]),
        [
          [carol.address, 0n],
          [carol.address, 1n],
        ],
      );
    });

    it('an empty batch is a no-op that refunds the value', async () => {
      const { flow } = await deployPair();
      const { result, receipt } = await call<BatchResult>(bob, flow, BATCH_SUBMIT, [[]], 7n);
      assert.deepEqual(result, [[], [], [], []]);
      assert.equal(submitEvents(receipt).length, 0);
      assert.equal(await balance(flow), 0n);
    });
  });
});
