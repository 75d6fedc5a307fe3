import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BaseError, ContractFunctionRevertedError, createPublicClient, decodeFunctionData, http } from 'viem';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { dataAvailabilityAbi } from '../../src/protocol/da/da-contract-abi.ts';
import { readCommittee } from '../../src/sdk/da/index.ts';
import { runCli, startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet, RunningNode } from './devnet-process.ts';

/** The revert's custom error name, or the message when the call did not revert with one. */
async function revertName(action: Promise<unknown>): Promise<string> {
  try {
    await action;
  } catch (error) {
    const reverted = error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : undefined;
    if (reverted instanceof ContractFunctionRevertedError) return reverted.data?.errorName ?? 'unnamed';
    throw error;
  }
  throw new Error('the call did not revert');
}

describe('DA on a devnet: 4 nodes, 2 of them on their own hosts', () => {
  let dir: string;
  let devnetDir: string;
  let devnet: RunningDevnet;
  const outside: RunningNode[] = [];
  let root: Hex;
  const payload = randomBytes(1024 * 1024);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-da-e2e-'));
    devnetDir = join(dir, 'devnet');
    devnet = await startDevnet(devnetDir, [], 180_000, { LEVITY_DA_NODES: '2' });
    // One after the other: registration order is committee order.
    for (const name of ['da-x', 'da-y']) {
      outside.push(await startNode(['--role', 'da-node', '--devnet', devnetDir, '--data-dir', join(dir, name), '--port-base', '0'], 120_000));
    }
  });
  after(async () => {
    for (const node of outside) await node.stop('SIGKILL');
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('certifies a 1 MiB payload on chain; forged and replayed certificates revert', async () => {
    const { chain } = devnet.manifest;
    const contract = chain.contracts.DataAvailability as Address;
    const client = createPublicClient({ transport: http(chain.rpc) });
    const committee = await readCommittee({ client, contract });
    assert.equal(committee.members.length, 4);

    const file = join(dir, 'payload.bin');
    await writeFile(file, payload);
    const submitted = await runCli(['da', 'submit', file, '--devnet', devnetDir, '--json'], 180_000);
    assert.equal(submitted.code, 0, submitted.stderr);
    const status = JSON.parse(submitted.stdout) as { status: string; dataRoot: Hex; txHash: Hex; signers: number[]; blobCount: number };
    assert.equal(status.status, 'confirmed');
    assert.equal(status.blobCount, 9);
    assert.ok(status.signers.length >= 3, `signers ${status.signers.join(',')}`);
    root = status.dataRoot;

    const exists = await client.readContract({ address: contract, abi: dataAvailabilityAbi, functionName: 'commitmentExists', args: [root] });
    assert.equal(exists, true);

    // The certificate as the aggregator sent it, read back from its transaction.
    const tx = await client.getTransaction({ hash: status.txHash });
    const { args } = decodeFunctionData({ abi: dataAvailabilityAbi, data: tx.input });
    const certificate = (args as readonly [{ epoch: bigint; payloadSize: bigint; blobCount: number; commitmentsHash: Hex; signers: bigint; signature: Hex }])[0];
    const account = privateKeyToAccount(chain.accounts[3]!.privateKey as Hex);
    const submit = (cert: typeof certificate) =>
      client.simulateContract({ account, address: contract, abi: dataAvailabilityAbi, functionName: 'submitCertificate', args: [cert] });
    assert.equal(await revertName(submit(certificate)), 'AlreadyCertified');
    assert.equal(await revertName(submit({ ...certificate, payloadSize: certificate.payloadSize + 1n })), 'InvalidSignature');
    assert.equal(await revertName(submit({ ...certificate, commitmentsHash: `0x${'11'.repeat(32)}` })), 'InvalidSignature');
    assert.equal(await revertName(submit({ ...certificate, epoch: certificate.epoch + 1n })), 'WrongEpoch');
    assert.equal(await revertName(submit({ ...certificate, payloadSize: 7n, signers: 0b0011n })), 'InsufficientStake');
  });

  it('returns the exact bytes after kill -9 of 2 of the 4 DA nodes', async () => {
    assert.ok(root, 'the first test certified a payload');
    for (const node of outside) await node.stop('SIGKILL');
    const out = join(dir, 'back.bin');
    const got = await runCli(['da', 'get', root, out, '--devnet', devnetDir, '--json'], 180_000);
    assert.equal(got.code, 0, got.stderr);
    assert.ok((await readFile(out)).equals(payload), 'retrieved bytes equal the payload');
  });
});
