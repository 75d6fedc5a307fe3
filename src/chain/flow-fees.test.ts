import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keccak256, parseEventLogs, toHex, zeroAddress } from 'viem';
import type { Address } from 'viem';
import { assertReverts } from './test-evm.ts';
import {
  PRICE,
  SUBMIT,
  abi,
  abiFor,
  abiOf,
  alice,
  balance,
  bob,
  call,
  carol,
  dataFor,
  deploy,
  deployPair,
  flowArtifact,
  gasCost,
  read,
  send,
  submit,
  write,
  setUpFlowChain,
  tearDownFlowChain,
} from './flow-fixture.ts';
import type { Node, SubmissionData, SubmitResult } from './flow-fixture.ts';

describe('Flow and Market: fees and validation', () => {
  before(setUpFlowChain);
  after(tearDownFlowChain);

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
});
