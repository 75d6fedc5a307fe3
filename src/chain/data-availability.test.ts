import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bytesToHex, hexToBytes, parseEther, parseEventLogs } from 'viem';
import type { Abi, Address, Hex, TransactionReceipt } from 'viem';
import { mnemonicToAccount } from 'viem/accounts';
import type { HDAccount } from 'viem/accounts';
import { blsAggregateSignatures, blsKeyFromSeed, blsSign } from '../protocol/da/bls.ts';
import type { BlsKeyPair } from '../protocol/da/bls.ts';
import { g1ToEip2537, g2ToEip2537 } from '../protocol/da/bls-eip2537.ts';
import { attestationMessage, commitmentsHash, dataRoot, popMessage, signersBitmap } from '../protocol/da/certificate.ts';
import { dataAvailabilityAbi } from '../protocol/da/da-contract-abi.ts';
import type { DaCertificateArgs } from '../protocol/da/da-contract-abi.ts';
import type { BlobHeader, DaDomain } from '../protocol/da/types.ts';
import { DA_MIN_STAKE, DA_REPLICATION } from './contract-plan.ts';
import { assertReverts, startTestEvm } from './test-evm.ts';
import type { TestEvm } from './test-evm.ts';

// Node stakes chosen so that signers {2, 3} hold 20/22 of the stake (the stake rule passes) while nodes 0 and 1,
// adjacent, both miss (with replication 2 the cells they hold together have no signing custodian).
const STAKES = [parseEther('1'), parseEther('1'), parseEther('10'), parseEther('10')];

describe('DataAvailability', () => {
  let evm: TestEvm;
  let contract: Address;
  let domain: DaDomain;
  let nodes: HDAccount[];
  let keys: BlsKeyPair[];
  let outsider: HDAccount;
  let headerCount = 0;

  before(async () => {
    evm = await startTestEvm();
    nodes = evm.accounts.slice(1, 5);
    outsider = evm.accounts[5]!;
    keys = nodes.map((_, i) => blsKeyFromSeed(new Uint8Array(32).fill(i + 1)));
    contract = await evm.deploy(evm.compiled.contracts.DataAvailability!, [DA_MIN_STAKE, DA_REPLICATION]);
    domain = { chainId: await evm.publicClient.getChainId(), contract };
  });

  after(async () => {
    await evm?.close();
  });

  async function send(account: HDAccount, functionName: string, args: readonly unknown[], value?: bigint): Promise<TransactionReceipt> {
    const hash = await evm.wallet(account).writeContract({ address: contract, abi: dataAvailabilityAbi as Abi, functionName, args, value });
    const receipt = await evm.publicClient.getTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    return receipt;
  }

  function read<T>(functionName: string, args: readonly unknown[] = []): Promise<T> {
    return evm.publicClient.readContract({ address: contract, abi: dataAvailabilityAbi as Abi, functionName, args }) as Promise<T>;
  }

  function registerArgs(account: HDAccount, key: BlsKeyPair, url: string, popAccount: Address = account.address): [string, Hex, Hex] {
    const publicKey = g1ToEip2537(key.publicKey);
    const pop = blsSign(key.secretKey, popMessage(domain, popAccount, publicKey));
    return [url, bytesToHex(publicKey), bytesToHex(g2ToEip2537(pop))];
  }

  /** A fresh header for the current epoch (each call a different root). */
  function header(epoch = 4n): BlobHeader {
    headerCount++;
    const commitments = [1, 2].map((b) => bytesToHex(new Uint8Array(48).fill(headerCount * 8 + b)));
    return { epoch, payloadSize: 200_000 + headerCount, blobCount: 2, commitments };
  }

  /** A certificate over `signed` (default: `h` itself) by `signers`, with the given keys' signatures. */
  function certificate(h: BlobHeader, signers: number[], options: { signed?: BlobHeader; keys?: BlsKeyPair[] } = {}): DaCertificateArgs {
    const message = attestationMessage(domain, dataRoot(options.signed ?? h));
    const signing = options.keys ?? signers.map((i) => keys[i]!);
    const signature = blsAggregateSignatures(signing.map((k) => blsSign(k.secretKey, message)));
    return {
      epoch: h.epoch,
      payloadSize: BigInt(h.payloadSize),
      blobCount: h.blobCount,
      commitmentsHash: commitmentsHash(h.commitments),
      signers: signersBitmap(signers),
      signature: bytesToHex(g2ToEip2537(signature)),
    };
  }

  const submit = (cert: DaCertificateArgs) => send(outsider, 'submitCertificate', [cert]);

  it('matches the hand-written ABI', () => {
    const strip = (abi: readonly unknown[]) =>
      JSON.parse(JSON.stringify(abi, (key, value: unknown) => (key === 'internalType' ? undefined : value))) as { type: string; name?: string }[];
    const byKey = (a: { type: string; name?: string }, b: { type: string; name?: string }) =>
      `${a.type}:${a.name ?? ''}`.localeCompare(`${b.type}:${b.name ?? ''}`);
    assert.deepEqual(strip(dataAvailabilityAbi).sort(byKey), strip(evm.compiled.contracts.DataAvailability!.abi).sort(byKey));
  });

  it('registers four nodes with proofs of possession; each starts an epoch', async (t) => {
    assert.equal(await read<bigint>('epoch'), 0n);
    for (const [i, account] of nodes.entries()) {
      const args = registerArgs(account, keys[i]!, `http://da${i}:1`);
      const receipt = await send(account, 'register', args, STAKES[i]);
      if (i === 0) t.diagnostic(`register gas (first node): ${receipt.gasUsed}`);
      if (i === 3) t.diagnostic(`register gas (fourth node): ${receipt.gasUsed}`);
      const [event] = parseEventLogs({ abi: dataAvailabilityAbi, logs: receipt.logs, eventName: 'NodeRegistered' });
      assert.deepEqual(event?.args, {
        node: account.address,
        index: BigInt(i),
        url: `http://da${i}:1`,
        stake: STAKES[i],
        publicKey: args[1],
        epoch: BigInt(i + 1),
      });
    }
    assert.equal(await read<bigint>('epoch'), 4n);
    const [epoch, replication, addresses, urls, stakes, publicKeys] = await read<[bigint, number, Address[], string[], bigint[], Hex[]]>('committee');
    assert.equal(epoch, 4n);
    assert.equal(replication, 2);
    assert.deepEqual(addresses, nodes.map((n) => n.address));
    assert.deepEqual(urls, ['http://da0:1', 'http://da1:1', 'http://da2:1', 'http://da3:1']);
    assert.deepEqual(stakes, STAKES);
    assert.deepEqual(publicKeys, keys.map((k) => bytesToHex(g1ToEip2537(k.publicKey))));
  });

  it('refuses a low stake, a second registration, a bad key and a bad proof of possession', async () => {
    const key = blsKeyFromSeed(new Uint8Array(32).fill(99));
    const good = registerArgs(outsider, key, 'http://x:1');
    await assertReverts(send(outsider, 'register', good, DA_MIN_STAKE - 1n), 'StakeTooLow', [DA_MIN_STAKE - 1n, DA_MIN_STAKE]);
    await assertReverts(send(nodes[0]!, 'register', registerArgs(nodes[0]!, keys[0]!, 'http://again:1'), DA_MIN_STAKE), 'AlreadyRegistered', [nodes[0]!.address]);

    const infinity = bytesToHex(new Uint8Array(128));
    await assertReverts(send(outsider, 'register', [good[0], infinity, good[2]], DA_MIN_STAKE), 'InvalidPublicKey');
    const offCurve = g1ToEip2537(key.publicKey);
    offCurve[127]! ^= 1;
    await assertReverts(send(outsider, 'register', [good[0], bytesToHex(offCurve), good[2]], DA_MIN_STAKE), 'InvalidPublicKey');
    await assertReverts(send(outsider, 'register', [good[0], good[1].slice(0, -2) as Hex, good[2]], DA_MIN_STAKE), 'InvalidPublicKey');

    // A proof made for another account, another node's key with this one's proof, and an infinity proof.
    const forOther = registerArgs(outsider, key, 'http://x:1', nodes[0]!.address);
    await assertReverts(send(outsider, 'register', forOther, DA_MIN_STAKE), 'InvalidProofOfPossession');
    await assertReverts(send(outsider, 'register', [good[0], bytesToHex(g1ToEip2537(keys[0]!.publicKey)), good[2]], DA_MIN_STAKE), 'InvalidProofOfPossession');
    await assertReverts(send(outsider, 'register', [good[0], good[1], bytesToHex(new Uint8Array(256))], DA_MIN_STAKE), 'InvalidProofOfPossession');
    assert.equal(await read<bigint>('epoch'), 4n);
  });

  it('verifies a certificate from 3 of 4 signers and records it', async (t) => {
    const h = header();
    const root = dataRoot(h);
    assert.equal(await read<boolean>('commitmentExists', [root]), false);
    const cert = certificate(h, [1, 2, 3]);
    const { result } = await evm.publicClient.simulateContract({
      address: contract,
      abi: dataAvailabilityAbi,
      functionName: 'submitCertificate',
      args: [cert],
      account: outsider,
    });
    assert.equal(result, root);
    const receipt = await submit(cert);
    t.diagnostic(`submitCertificate gas, 3 of 4 signers: ${receipt.gasUsed}`);

    const [event] = parseEventLogs({ abi: dataAvailabilityAbi, logs: receipt.logs, eventName: 'DataCertified' });
    assert.deepEqual(event?.args, { dataRoot: root, epoch: 4n, payloadSize: cert.payloadSize, blobCount: 2, signers: 0b1110n });
    assert.equal(await read<boolean>('commitmentExists', [root]), true);
    assert.deepEqual(await read<unknown[]>('certificateOf', [root]), [4n, cert.payloadSize, 2, cert.commitmentsHash, 0b1110n, receipt.blockNumber]);

    await assertReverts(submit(cert), 'AlreadyCertified', [root]);
  });

  it('verifies a certificate from all 4 signers', async (t) => {
    const receipt = await submit(certificate(header(), [0, 1, 2, 3]));
    t.diagnostic(`submitCertificate gas, 4 of 4 signers: ${receipt.gasUsed}`);
  });

  it('answers zeros for a root never certified', async () => {
    assert.deepEqual(await read<unknown[]>('certificateOf', [`0x${'11'.repeat(32)}`]), [0n, 0n, 0, `0x${'00'.repeat(32)}`, 0n, 0n]);
  });

  it('rejects forged and mismatched signatures', async () => {
    const h = header();
    const stranger = blsKeyFromSeed(new Uint8Array(32).fill(77));
    await assertReverts(submit(certificate(h, [1, 2, 3], { keys: [keys[1]!, keys[2]!, stranger] })), 'InvalidSignature');
    // Signed by 1, 2 and 3 but claimed for 0, 2 and 3.
    await assertReverts(submit(certificate(h, [0, 2, 3], { keys: [keys[1]!, keys[2]!, keys[3]!] })), 'InvalidSignature');
    // The signers signed another payload size than the one submitted.
    await assertReverts(submit(certificate({ ...h, payloadSize: h.payloadSize + 1 }, [1, 2, 3], { signed: h })), 'InvalidSignature');

    const good = certificate(h, [1, 2, 3]);
    await assertReverts(submit({ ...good, signature: bytesToHex(new Uint8Array(256)) }), 'InvalidSignature');
    await assertReverts(submit({ ...good, signature: good.signature.slice(0, -2) as Hex }), 'InvalidSignature');
    const offCurve = hexToBytes(good.signature);
    offCurve[255]! ^= 1;
    await assertReverts(submit({ ...good, signature: bytesToHex(offCurve) }), 'InvalidSignature');
    assert.equal(await read<boolean>('commitmentExists', [dataRoot(h)]), false);
  });

  it('enforces the signer set: none, unknown, too little stake, uncovered cells', async () => {
    const h = header();
    await assertReverts(submit({ ...certificate(h, [1, 2, 3]), signers: 0n }), 'NoSigners');
    await assertReverts(submit(certificate(h, [1, 2, 4], { keys: [keys[1]!, keys[2]!] })), 'UnknownSigner', [4n]);
    await assertReverts(submit(certificate(h, [0, 2])), 'InsufficientStake', [parseEther('11'), parseEther('22')]);
    await assertReverts(submit(certificate(h, [2, 3])), 'CellsNotCovered');
  });

  it('accepts only the current epoch, which the next registration moves on', async () => {
    const h = header();
    await assertReverts(submit(certificate({ ...h, epoch: 5n }, [1, 2, 3])), 'WrongEpoch', [4n, 5n]);
    await assertReverts(submit(certificate({ ...h, epoch: 3n }, [1, 2, 3])), 'WrongEpoch', [4n, 3n]);

    const key = blsKeyFromSeed(new Uint8Array(32).fill(55));
    await send(outsider, 'register', registerArgs(outsider, key, 'http://da4:1'), DA_MIN_STAKE);
    assert.equal(await read<bigint>('epoch'), 5n);
    await assertReverts(submit(certificate(h, [1, 2, 3])), 'WrongEpoch', [5n, 4n]);
    // Nodes 0, 2 and 3 hold 21 of 23 ether, and the non-signers 1 and 4 are not adjacent.
    const receipt = await submit(certificate(header(5n), [0, 2, 3]));
    assert.equal(receipt.status, 'success');
  });

  it('takes at most 64 nodes, and certifies with signer 63', async (t) => {
    // Five nodes so far; fund and register 59 more from the same test mnemonic.
    const extra = Array.from({ length: 60 }, (_, i) => mnemonicToAccount('test test test test test test test test test test test junk', { addressIndex: 10 + i }));
    const funder = evm.wallet(evm.accounts[6]!);
    for (const account of extra) {
      await evm.publicClient.getTransactionReceipt({ hash: await funder.sendTransaction({ to: account.address, value: parseEther('2') }) });
    }
    const extraKeys = extra.map((_, i) => blsKeyFromSeed(new Uint8Array(32).fill(100 + i)));
    let last: TransactionReceipt | undefined;
    for (let i = 0; i < 59; i++) last = await send(extra[i]!, 'register', registerArgs(extra[i]!, extraKeys[i]!, `http://x${i}:1`), DA_MIN_STAKE);
    t.diagnostic(`register gas (64th node): ${last?.gasUsed}`);
    assert.equal(await read<bigint>('epoch'), 64n);
    await assertReverts(send(extra[59]!, 'register', registerArgs(extra[59]!, extraKeys[59]!, 'http://full:1'), DA_MIN_STAKE), 'CommitteeFull', [64n]);

    // Every node but those ≡ 1 mod 3 signs: 61 of 82 ether, no two adjacent non-signers.
    const all = [...keys, blsKeyFromSeed(new Uint8Array(32).fill(55)), ...extraKeys.slice(0, 59)];
    const signers = all.map((_, i) => i).filter((i) => i % 3 !== 1);
    const h = header(64n);
    const cert = certificate(h, signers, { keys: signers.map((i) => all[i]!) });
    const receipt = await submit(cert);
    t.diagnostic(`submitCertificate gas, ${signers.length} of 64 signers: ${receipt.gasUsed}`);
    const [, , , , recordedSigners] = await read<unknown[]>('certificateOf', [dataRoot(h)]);
    assert.equal(recordedSigners, signersBitmap(signers));
    assert.ok(signersBitmap(signers) >> 63n === 1n);
  });
});
