import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hexToBytes, numberToHex, parseEther, parseEventLogs } from 'viem';
import type { Abi, Address, Hex, TransactionReceipt } from 'viem';
import type { HDAccount } from 'viem/accounts';
import { serviceRegistryAbi } from '../protocol/serving/service-registry-abi.ts';
import { servingLedgerAbi } from '../protocol/serving/serving-ledger-abi.ts';
import { signReceipt } from '../protocol/serving/receipt.ts';
import type { Receipt, ReceiptDomain } from '../protocol/serving/receipt.ts';
import { SERVING_LOCK_TIME } from './contract-plan.ts';
import { assertReverts, startTestEvm } from './test-evm.ts';
import type { TestEvm } from './test-evm.ts';

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const service = {
  name: 'chat-1',
  serviceType: 'chat',
  url: 'http://127.0.0.1:8585',
  model: 'levity-tiny',
  inputPricePerToken: 3n,
  outputPricePerToken: 7n,
  verifiability: 'signed-response',
};
type SubAccount = [balance: bigint, pendingRefund: bigint, unlockAt: bigint, settled: bigint, lastNonce: bigint];

describe('ServiceRegistry and ServingLedger', () => {
  let evm: TestEvm;
  let registry: Address;
  let ledger: Address;
  let domain: ReceiptDomain;
  let alice: HDAccount;
  let bob: HDAccount;
  let carol: HDAccount;
  let dave: HDAccount;
  let erin: HDAccount;
  let p1: HDAccount;
  let p2: HDAccount;
  let p3: HDAccount;
  let mallory: HDAccount;

  before(async () => {
    evm = await startTestEvm();
    [alice, bob, carol, dave, erin, p1, p2, p3, mallory] = evm.accounts as [HDAccount, HDAccount, HDAccount, HDAccount, HDAccount, HDAccount, HDAccount, HDAccount, HDAccount];
    registry = await evm.deploy(evm.compiled.contracts.ServiceRegistry!);
    ledger = await evm.deploy(evm.compiled.contracts.ServingLedger!, [SERVING_LOCK_TIME]);
    domain = { chainId: await evm.publicClient.getChainId(), verifyingContract: ledger };
  });

  after(async () => {
    await evm?.close();
  });

  async function send(account: HDAccount, address: Address, abi: Abi, functionName: string, args: readonly unknown[] = [], value?: bigint): Promise<TransactionReceipt> {
    const hash = await evm.wallet(account).writeContract({ address, abi, functionName, args, value });
    const receipt = await evm.publicClient.getTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    return receipt;
  }
  const ledgerTx = (account: HDAccount, functionName: string, args: readonly unknown[] = [], value?: bigint) =>
    send(account, ledger, servingLedgerAbi as Abi, functionName, args, value);
  const registryTx = (account: HDAccount, functionName: string, args: readonly unknown[] = []) => send(account, registry, serviceRegistryAbi as Abi, functionName, args);
  const readLedger = <T>(functionName: string, args: readonly unknown[] = []) =>
    evm.publicClient.readContract({ address: ledger, abi: servingLedgerAbi as Abi, functionName, args }) as Promise<T>;
  const readRegistry = <T>(functionName: string, args: readonly unknown[] = []) =>
    evm.publicClient.readContract({ address: registry, abi: serviceRegistryAbi as Abi, functionName, args }) as Promise<T>;
  const sub = (user: HDAccount, provider: HDAccount) => readLedger<SubAccount>('subAccount', [user.address, provider.address]);
  const available = (user: HDAccount) => readLedger<bigint>('accountOf', [user.address]);
  const balanceOf = (account: HDAccount) => evm.publicClient.getBalance({ address: account.address });
  const fee = (receipt: TransactionReceipt) => receipt.gasUsed * receipt.effectiveGasPrice;
  /** Test-only JSON-RPC methods (evm_increaseTime, evm_mine) that viem's public schema does not name. */
  function rpc(method: string, params: unknown[]): Promise<unknown> {
    return (evm.publicClient.request as (args: { method: string; params: unknown[] }) => Promise<unknown>)({ method, params });
  }
  async function timestamp(receipt: TransactionReceipt): Promise<bigint> {
    return (await evm.publicClient.getBlock({ blockNumber: receipt.blockNumber })).timestamp;
  }

  async function signed(user: HDAccount, provider: HDAccount, cumulativeAmount: bigint, nonce: bigint, signer = user): Promise<[Receipt, Hex]> {
    const receipt: Receipt = { user: user.address, provider: provider.address, cumulativeAmount, nonce };
    return [receipt, await signReceipt(signer, domain, receipt)];
  }

  /** Settles as `caller` and checks the caller's wallet grew by exactly what the event says was paid. */
  async function settle(caller: HDAccount, [receipt, signature]: [Receipt, Hex], amount: bigint) {
    const before = await balanceOf(caller);
    const tx = await ledgerTx(caller, 'settle', [receipt, signature, amount]);
    const [event] = parseEventLogs({ abi: servingLedgerAbi, logs: tx.logs, eventName: 'Settled' });
    assert.ok(event);
    assert.equal((await balanceOf(caller)) - before + fee(tx), event.args.paid);
    return { tx, ...event.args };
  }
  const settleTx = (caller: HDAccount, [receipt, signature]: [Receipt, Hex], amount: bigint) => ledgerTx(caller, 'settle', [receipt, signature, amount]);

  async function depositAndFund(user: HDAccount, provider: HDAccount, amount: bigint): Promise<void> {
    await ledgerTx(user, 'deposit', [], amount);
    await ledgerTx(user, 'fund', [provider.address, amount]);
  }

  it('matches the hand-written ABIs', () => {
    const strip = (abi: readonly unknown[]) =>
      JSON.parse(JSON.stringify(abi, (key, value: unknown) => (key === 'internalType' ? undefined : value))) as { type: string; name?: string }[];
    const byKey = (a: { type: string; name?: string }, b: { type: string; name?: string }) => `${a.type}:${a.name ?? ''}`.localeCompare(`${b.type}:${b.name ?? ''}`);
    assert.deepEqual(strip(serviceRegistryAbi).sort(byKey), strip(evm.compiled.contracts.ServiceRegistry!.abi).sort(byKey));
    assert.deepEqual(strip(servingLedgerAbi).sort(byKey), strip(evm.compiled.contracts.ServingLedger!.abi).sort(byKey));
  });

  it('registers, updates, lists and removes services per provider', async () => {
    const tx = await registryTx(p1, 'register', [service]);
    const [event] = parseEventLogs({ abi: serviceRegistryAbi, logs: tx.logs, eventName: 'ServiceRegistered' });
    assert.deepEqual(event?.args, { provider: p1.address, name: 'chat-1', service });
    const record = { provider: p1.address, ...service, updatedAt: await timestamp(tx) };
    assert.deepEqual(await readRegistry('services'), [record]);
    assert.deepEqual(await readRegistry('service', [p1.address, 'chat-1']), record);

    // The same name again replaces the record; another provider's same name is its own entry.
    const update = await registryTx(p1, 'upsert', [{ ...service, url: 'http://127.0.0.1:9000', outputPricePerToken: 9n }]);
    await registryTx(p2, 'register', [service]);
    const updated = { ...record, url: 'http://127.0.0.1:9000', outputPricePerToken: 9n, updatedAt: await timestamp(update) };
    assert.deepEqual(await readRegistry('service', [p1.address, 'chat-1']), updated);
    type Row = { provider: Address; url: string };
    assert.deepEqual((await readRegistry<Row[]>('services')).map((s) => [s.provider, s.url]), [
      [p1.address, 'http://127.0.0.1:9000'],
      [p2.address, service.url],
    ]);

    const removed = await registryTx(p1, 'remove', ['chat-1']);
    const [gone] = parseEventLogs({ abi: serviceRegistryAbi, logs: removed.logs, eventName: 'ServiceRemoved' });
    assert.deepEqual(gone?.args, { provider: p1.address, name: 'chat-1' });
    assert.deepEqual((await readRegistry<Row[]>('services')).map((s) => s.provider), [p2.address]);
    await assertReverts(readRegistry('service', [p1.address, 'chat-1']), 'UnknownService', [p1.address, 'chat-1']);
    await assertReverts(registryTx(p1, 'remove', ['chat-1']), 'UnknownService', [p1.address, 'chat-1']);
    await assertReverts(registryTx(p1, 'register', [{ ...service, url: '' }]), 'EmptyField', ['url']);
    await assertReverts(registryTx(p1, 'register', [{ ...service, model: 'x'.repeat(257) }]), 'FieldTooLong', ['model']);
  });

  it('deposits, withdraws and funds sub-accounts', async () => {
    assert.equal(await readLedger('lockTime'), SERVING_LOCK_TIME);
    await assertReverts(ledgerTx(alice, 'deposit', [], 0n), 'ZeroAmount');
    const deposited = await ledgerTx(alice, 'deposit', [], parseEther('3'));
    assert.deepEqual(parseEventLogs({ abi: servingLedgerAbi, logs: deposited.logs, eventName: 'Deposited' })[0]?.args, { user: alice.address, amount: parseEther('3') });
    assert.equal(await available(alice), parseEther('3'));

    const before = await balanceOf(alice);
    const withdrawn = await ledgerTx(alice, 'withdraw', [parseEther('1')]);
    assert.equal((await balanceOf(alice)) - before + fee(withdrawn), parseEther('1'));
    assert.equal(await available(alice), parseEther('2'));
    await assertReverts(ledgerTx(alice, 'withdraw', [parseEther('2') + 1n]), 'InsufficientAvailable');
    await assertReverts(ledgerTx(alice, 'withdraw', [0n]), 'ZeroAmount');

    const funded = await ledgerTx(alice, 'fund', [p1.address, parseEther('1.5')]);
    assert.deepEqual(parseEventLogs({ abi: servingLedgerAbi, logs: funded.logs, eventName: 'Funded' })[0]?.args, {
      user: alice.address,
      provider: p1.address,
      amount: parseEther('1.5'),
    });
    assert.equal(await available(alice), parseEther('0.5'));
    assert.deepEqual(await sub(alice, p1), [parseEther('1.5'), 0n, 0n, 0n, 0n]);
    await assertReverts(ledgerTx(alice, 'fund', [p1.address, parseEther('0.5') + 1n]), 'InsufficientAvailable');
    await assertReverts(ledgerTx(alice, 'fund', [p1.address, 0n]), 'ZeroAmount');
  });

  it('locks a refund for lockTime, then claims it', async () => {
    await assertReverts(ledgerTx(alice, 'requestRefund', [p1.address, parseEther('1.5') + 1n]), 'InsufficientBalance');
    await ledgerTx(alice, 'requestRefund', [p1.address, parseEther('0.25')]);
    // A second request adds to the pending refund and restarts the lock.
    const tx = await ledgerTx(alice, 'requestRefund', [p1.address, parseEther('0.25')]);
    const unlockAt = (await timestamp(tx)) + SERVING_LOCK_TIME;
    assert.deepEqual(parseEventLogs({ abi: servingLedgerAbi, logs: tx.logs, eventName: 'RefundRequested' })[0]?.args, {
      user: alice.address,
      provider: p1.address,
      amount: parseEther('0.25'),
      unlockAt,
    });
    assert.deepEqual(await sub(alice, p1), [parseEther('1'), parseEther('0.5'), unlockAt, 0n, 0n]);
    await assertReverts(ledgerTx(alice, 'claimRefund', [p1.address]), 'RefundLocked', [unlockAt]);

    await rpc('evm_increaseTime', [Number(SERVING_LOCK_TIME)]);
    await rpc('evm_mine', []);
    const claimed = await ledgerTx(alice, 'claimRefund', [p1.address]);
    assert.ok((await timestamp(claimed)) >= unlockAt);
    assert.deepEqual(parseEventLogs({ abi: servingLedgerAbi, logs: claimed.logs, eventName: 'RefundClaimed' })[0]?.args, {
      user: alice.address,
      provider: p1.address,
      amount: parseEther('0.5'),
    });
    assert.equal(await available(alice), parseEther('1'));
    assert.deepEqual(await sub(alice, p1), [parseEther('1'), 0n, 0n, 0n, 0n]);
    await assertReverts(ledgerTx(alice, 'claimRefund', [p1.address]), 'NoPendingRefund');
  });

  it('settles the latest receipt once, paying the provider exactly what is due', async () => {
    const first = await settle(p1, await signed(alice, p1, 1_000n, 1n), 600n);
    assert.deepEqual([first.user, first.provider, first.paid, first.settledTotal, first.nonce], [alice.address, p1.address, 600n, 600n, 1n]);
    assert.deepEqual(await sub(alice, p1), [parseEther('1') - 600n, 0n, 0n, 600n, 1n]);

    const latest = await signed(alice, p1, 2_000n, 2n);
    const later = await settle(p1, latest, 1_500n);
    assert.deepEqual([later.paid, later.settledTotal], [900n, 1_500n]);
    assert.deepEqual(await sub(alice, p1), [parseEther('1') - 1_500n, 0n, 0n, 1_500n, 2n]);

    await assertReverts(settleTx(p1, latest, 1_500n), 'NothingToSettle');
    await assertReverts(settleTx(p1, latest, 1_000n), 'NothingToSettle');
    await assertReverts(settleTx(p1, await signed(alice, p1, 5_000n, 1n), 1_800n), 'StaleReceipt');
    await assertReverts(settleTx(p1, await signed(alice, p1, 3_000n, 3n), 3_001n), 'OverSigned', [3_001n, 3_000n]);
    await assertReverts(settleTx(mallory, latest, 2_000n), 'NotProvider');
    // Settling the rest of what the latest receipt signed is still fine.
    assert.equal((await settle(p1, latest, 2_000n)).paid, 500n);
  });

  it('accepts only the user’s canonical signature for this ledger and chain', async () => {
    const [receipt] = await signed(alice, p1, 10_000n, 10n);
    const forged = await signed(alice, p1, 10_000n, 10n, mallory);
    await assertReverts(settleTx(p1, forged, 5_000n), 'BadSignature');
    const [, signature] = await signed(alice, p1, 10_000n, 10n);
    // The malleable twin (s → n − s, v flipped) recovers the same signer; only low s is accepted.
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const twin = `${signature.slice(0, 66)}${numberToHex(N - s, { size: 32 }).slice(2)}${signature.endsWith('1b') ? '1c' : '1b'}` as Hex;
    await assertReverts(settleTx(p1, [receipt, twin], 5_000n), 'BadSignature');
    await assertReverts(settleTx(p1, [receipt, signature.slice(0, 130) as Hex], 5_000n), 'BadSignature');
    await assertReverts(settleTx(p1, [receipt, `${signature.slice(0, 130)}01` as Hex], 5_000n), 'BadSignature');
    const otherChain = await signReceipt(alice, { ...domain, chainId: 1 }, receipt);
    await assertReverts(settleTx(p1, [receipt, otherChain], 5_000n), 'BadSignature');
    // A zero user cannot be "recovered" from garbage.
    const zeroUser = { ...receipt, user: '0x0000000000000000000000000000000000000000' as Address };
    await assertReverts(settleTx(p1, [zeroUser, `0x${'00'.repeat(64)}1b`], 5_000n), 'BadSignature');
    assert.equal((await settle(p1, [receipt, signature], 5_000n)).paid, 3_000n);
  });

  it('spends a pending refund during the lock, balance first', async () => {
    await depositAndFund(carol, p1, 1_000n);
    await ledgerTx(carol, 'requestRefund', [p1.address, 400n]);
    const [, , unlockAt] = await sub(carol, p1);
    const paid = await settle(p1, await signed(carol, p1, 800n, 1n), 700n);
    assert.equal(paid.paid, 700n);
    assert.deepEqual(await sub(carol, p1), [0n, 300n, unlockAt, 700n, 1n]);
  });

  it('never pays more than the sub-account holds; the rest stays due after a top-up', async () => {
    await depositAndFund(dave, p1, 1_000n);
    await ledgerTx(dave, 'requestRefund', [p1.address, 200n]);
    const receipt = await signed(dave, p1, 5_000n, 1n);
    const short = await settle(p1, receipt, 1_500n);
    assert.deepEqual([short.paid, short.settledTotal], [1_000n, 1_000n]);
    const [, , unlockAt] = await sub(dave, p1);
    assert.deepEqual(await sub(dave, p1), [0n, 0n, unlockAt, 1_000n, 1n]);
    // Nothing held: the settlement succeeds and pays nothing.
    assert.equal((await settle(p1, receipt, 1_500n)).paid, 0n);

    await depositAndFund(dave, p1, 2_000n);
    const rest = await settle(p1, receipt, 1_500n);
    assert.deepEqual([rest.paid, rest.settledTotal], [500n, 1_500n]);
    assert.deepEqual(await sub(dave, p1), [1_500n, 0n, unlockAt, 1_500n, 1n]);
  });

  it('keeps each provider’s sub-account apart', async () => {
    await depositAndFund(erin, p1, 1_000n);
    await depositAndFund(erin, p2, 1_000n);
    const p2Before = await sub(erin, p2);
    await settle(p1, await signed(erin, p1, 400n, 50n), 400n);
    assert.deepEqual(await sub(erin, p2), p2Before);
    assert.deepEqual(await sub(erin, p1), [600n, 0n, 0n, 400n, 50n]);

    // P1's receipt cannot be settled by P2, nor re-addressed to P2, and P2's nonces are its own.
    const forP1 = await signed(erin, p1, 900n, 51n);
    await assertReverts(settleTx(p2, forP1, 100n), 'NotProvider');
    await assertReverts(settleTx(p2, [{ ...forP1[0], provider: p2.address }, forP1[1]], 100n), 'BadSignature');
    assert.equal((await settle(p2, await signed(erin, p2, 300n, 1n), 300n)).paid, 300n);
    assert.deepEqual(await sub(erin, p1), [600n, 0n, 0n, 400n, 50n]);
    assert.deepEqual(await sub(erin, p2), [700n, 0n, 0n, 300n, 1n]);
  });

  it('costs the same gas for a receipt covering 1 or 1,000 requests', async (t) => {
    const perRequest = 12_345n;
    const users = [bob, mallory];
    for (const user of users) await depositAndFund(user, p3, parseEther('1'));
    const gas = async (user: HDAccount, requests: bigint) => {
      const receipt = await ledgerTx(p3, 'settle', [...(await signed(user, p3, requests * perRequest, requests)), requests * perRequest]);
      return { gasUsed: receipt.gasUsed, execution: receipt.gasUsed - (await intrinsicGas(receipt)) };
    };
    // Both sub-accounts start alike (funded, never settled), so the two settles write the same slots.
    const firstOne = await gas(bob, 1n);
    const firstThousand = await gas(mallory, 1_000n);
    const laterOne = await gas(bob, 2n);
    const laterThousand = await gas(mallory, 2_000n);
    t.diagnostic(`settle gas, first: 1 request ${firstOne.gasUsed}, 1000 requests ${firstThousand.gasUsed} (execution ${firstOne.execution} / ${firstThousand.execution})`);
    t.diagnostic(`settle gas, later: 1 request ${laterOne.gasUsed}, 1000 requests ${laterThousand.gasUsed} (execution ${laterOne.execution} / ${laterThousand.execution})`);
    // Only calldata can differ (zero bytes cost 4 gas, others 16): the contract's own work is identical.
    assert.equal(firstOne.execution, firstThousand.execution);
    assert.equal(laterOne.execution, laterThousand.execution);
    assert.ok(firstOne.gasUsed - firstThousand.gasUsed <= 16n * 12n && firstThousand.gasUsed - firstOne.gasUsed <= 16n * 12n);
  });

  /** 21,000 plus the calldata's price (EIP-2028), everything of gasUsed that the contract does not spend. */
  async function intrinsicGas(receipt: TransactionReceipt): Promise<bigint> {
    const tx = await evm.publicClient.getTransaction({ hash: receipt.transactionHash });
    const bytes = hexToBytes(tx.input);
    const zeros = bytes.filter((b) => b === 0).length;
    return 21_000n + BigInt(zeros) * 4n + BigInt(bytes.length - zeros) * 16n;
  }
});
