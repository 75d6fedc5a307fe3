import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseEventLogs, toEventSelector, toFunctionSelector, zeroAddress } from 'viem';
import type { Abi, AbiFunction, Address } from 'viem';
import { assertReverts } from './test-evm.ts';
import {
  BATCH_SUBMIT,
  LEGACY_BATCH_SUBMIT,
  LEGACY_SUBMIT,
  PRICE,
  SUBMIT,
  SUBMIT_TOPIC,
  abi,
  abiFor,
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
  identityOf,
  marketArtifact,
  place,
  randomSizes,
  read,
  sectorsOf,
  submit,
  submitEvents,
  write,
  setUpFlowChain,
  tearDownFlowChain,
} from './flow-fixture.ts';
import type { BatchResult, SubmissionData, SubmitResult } from './flow-fixture.ts';

describe('Flow and Market', () => {
  before(setUpFlowChain);
  after(tearDownFlowChain);

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
