import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseEventLogs, zeroAddress } from 'viem';
import type { Abi, Address, TransactionReceipt } from 'viem';
import type { HDAccount } from 'viem/accounts';
import { assertReverts, startTestEvm } from './test-evm.ts';
import type { TestEvm } from './test-evm.ts';

describe('NodeRegistry', () => {
  let evm: TestEvm;
  let abi: Abi;
  let registry: Address;
  let alice: HDAccount;
  let bob: HDAccount;
  let carol: HDAccount;

  before(async () => {
    evm = await startTestEvm();
    [alice, bob, carol] = evm.accounts as [HDAccount, HDAccount, HDAccount];
    const artifact = evm.compiled.contracts.NodeRegistry!;
    abi = artifact.abi;
    registry = await evm.deploy(artifact, [], alice);
  });

  after(async () => {
    await evm?.close();
  });

  /** Sends a transaction (the chain automines) and returns its receipt. */
  async function send(account: HDAccount, functionName: string, args: readonly unknown[]): Promise<TransactionReceipt> {
    const hash = await evm.wallet(account).writeContract({ address: registry, abi, functionName, args });
    const receipt = await evm.publicClient.getTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    return receipt;
  }

  function read<T>(functionName: string, args: readonly unknown[] = []): Promise<T> {
    return evm.publicClient.readContract({ address: registry, abi, functionName, args }) as Promise<T>;
  }

  async function register(account: HDAccount, role: string, url: string): Promise<bigint> {
    const receipt = await send(account, 'register', [role, url]);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'NodeRegistered' });
    assert.ok(event);
    return (event.args as { id: bigint }).id;
  }

  type Node = { id: bigint; operator: Address; active: boolean; registeredAt: bigint; updatedAt: bigint; role: string; url: string };
  const urlsOf = (nodes: Node[]) => nodes.map((n) => n.url).sort();

  it('registers a node with id 1 and lists it by role and operator', async () => {
    const receipt = await send(alice, 'register', ['storage-node', 'http://a:1']);
    const events = parseEventLogs({ abi, logs: receipt.logs, eventName: 'NodeRegistered' });
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]?.args, { id: 1n, operator: alice.address, role: 'storage-node', url: 'http://a:1' });

    const node = await read<Node>('getNode', [1n]);
    const block = await evm.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    assert.deepEqual(node, {
      id: 1n,
      operator: alice.address,
      active: true,
      registeredAt: block.timestamp,
      updatedAt: block.timestamp,
      role: 'storage-node',
      url: 'http://a:1',
    });
    assert.deepEqual(await read<Node[]>('nodesByRole', ['storage-node']), [node]);
    assert.deepEqual(await read<bigint[]>('nodesOf', [alice.address]), [1n]);
    assert.equal(await read<bigint>('nodeCount'), 1n);
  });

  it('lets the operator update the url, and nobody else', async () => {
    const id = await register(alice, 'indexer', 'http://idx:1');
    const receipt = await send(alice, 'updateUrl', [id, 'http://idx:2']);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'NodeUpdated' });
    assert.deepEqual(event?.args, { id, url: 'http://idx:2' });
    assert.equal((await read<Node>('getNode', [id])).url, 'http://idx:2');

    await assertReverts(send(bob, 'updateUrl', [id, 'http://evil']), 'NotOperator', [id, bob.address]);
    await assertReverts(send(bob, 'deregister', [id]), 'NotOperator', [id, bob.address]);
    await assertReverts(send(bob, 'transferOperator', [id, bob.address]), 'NotOperator', [id, bob.address]);
    assert.equal((await read<Node>('getNode', [id])).url, 'http://idx:2');
  });

  it('rejects empty and too-long fields', async () => {
    const long = 'x'.repeat(257);
    await assertReverts(send(alice, 'register', ['', 'http://a']), 'EmptyField', ['role']);
    await assertReverts(send(alice, 'register', ['su', '']), 'EmptyField', ['url']);
    await assertReverts(send(alice, 'register', [long, 'http://a']), 'FieldTooLong', ['role']);
    await assertReverts(send(alice, 'register', ['su', long]), 'FieldTooLong', ['url']);
    const id = await register(alice, 'su', 'x'.repeat(256)); // the limit itself is allowed
    await assertReverts(send(alice, 'updateUrl', [id, '']), 'EmptyField', ['url']);
    await assertReverts(send(alice, 'updateUrl', [id, long]), 'FieldTooLong', ['url']);
  });

  it('deregister removes the node from the listings and freezes it', async () => {
    const keep = await register(carol, 'da-node', 'http://da:1');
    const gone = await register(carol, 'da-node', 'http://da:2');
    assert.deepEqual(urlsOf(await read<Node[]>('nodesByRole', ['da-node'])), ['http://da:1', 'http://da:2']);

    const receipt = await send(carol, 'deregister', [gone]);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'NodeDeregistered' });
    assert.deepEqual(event?.args, { id: gone });

    assert.deepEqual(urlsOf(await read<Node[]>('nodesByRole', ['da-node'])), ['http://da:1']);
    assert.deepEqual(await read<bigint[]>('nodesOf', [carol.address]), [keep]);
    const node = await read<Node>('getNode', [gone]);
    assert.equal(node.active, false, 'the record stays readable');
    await assertReverts(send(carol, 'updateUrl', [gone, 'http://da:3']), 'NodeInactive', [gone]);
    await assertReverts(send(carol, 'deregister', [gone]), 'NodeInactive', [gone]);
    await assertReverts(send(carol, 'transferOperator', [gone, bob.address]), 'NodeInactive', [gone]);
  });

  it('transferOperator moves the rights to the new operator', async () => {
    const id = await register(alice, 'provider', 'http://p:1');
    await assertReverts(send(alice, 'transferOperator', [id, zeroAddress]), 'ZeroAddress', []);

    const receipt = await send(alice, 'transferOperator', [id, bob.address]);
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: 'OperatorTransferred' });
    assert.deepEqual(event?.args, { id, from: alice.address, to: bob.address });
    assert.equal((await read<Node>('getNode', [id])).operator, bob.address);
    assert.ok(!(await read<bigint[]>('nodesOf', [alice.address])).includes(id));
    assert.deepEqual(await read<bigint[]>('nodesOf', [bob.address]), [id]);

    await assertReverts(send(alice, 'updateUrl', [id, 'http://p:2']), 'NotOperator', [id, alice.address]);
    await send(bob, 'updateUrl', [id, 'http://p:2']);
    // Handing it back must not list the id twice for bob or alice.
    await send(bob, 'transferOperator', [id, alice.address]);
    assert.deepEqual(await read<bigint[]>('nodesOf', [bob.address]), []);
    assert.equal((await read<bigint[]>('nodesOf', [alice.address])).filter((x) => x === id).length, 1);
  });

  it('getNode reverts UnknownNode for ids never issued', async () => {
    const count = await read<bigint>('nodeCount');
    await assertReverts(read('getNode', [0n]), 'UnknownNode', [0n]);
    await assertReverts(read('getNode', [count + 1n]), 'UnknownNode', [count + 1n]);
  });

  it('lists roles separately, including several nodes of one role per operator', async () => {
    await register(bob, 'gateway', 'http://gw:1');
    await register(bob, 'gateway', 'http://gw:2');
    await register(carol, 'gateway', 'http://gw:3');
    await register(bob, 'explorer', 'http://ex:1');
    assert.deepEqual(urlsOf(await read<Node[]>('nodesByRole', ['gateway'])), ['http://gw:1', 'http://gw:2', 'http://gw:3']);
    assert.deepEqual(urlsOf(await read<Node[]>('nodesByRole', ['explorer'])), ['http://ex:1']);
    assert.deepEqual(await read<Node[]>('nodesByRole', ['no-such-role']), []);
    assert.deepEqual(urlsOf(await read<Node[]>('nodesByRole', ['storage-node'])), ['http://a:1']);
  });
});
