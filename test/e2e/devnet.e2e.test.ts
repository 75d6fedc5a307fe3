import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, createWalletClient, getAddress, http, parseEther } from 'viem';
import type { Address, Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { compileContracts, CONTRACTS_DIR, levityChain, SOLC_CACHE_DIR } from '../../src/chain/index.ts';
import type { ContractArtifact } from '../../src/chain/index.ts';
import { runCli, startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';

type Node = { id: bigint; operator: Address; active: boolean; role: string; url: string };

describe('levity up: the embedded devnet chain', () => {
  let dir: string;
  let devnet: RunningDevnet | undefined;
  let registryArtifact: ContractArtifact;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-e2e-'));
    registryArtifact = (await compileContracts({ sourcesDir: CONTRACTS_DIR, cacheDir: SOLC_CACHE_DIR })).contracts.NodeRegistry!;
  });
  after(async () => {
    await devnet?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const clients = (running: RunningDevnet, accountIndex: number) => {
    const chain = levityChain(running.manifest.chain.chainId, running.manifest.chain.rpc);
    const account = privateKeyToAccount(running.manifest.chain.accounts[accountIndex]!.privateKey as Hex);
    return {
      client: createPublicClient({ chain, transport: http(), pollingInterval: 50 }),
      wallet: createWalletClient({ chain, transport: http(), account }),
      account,
    };
  };

  // State written in the first run and checked after the restart.
  const recipient: Address = '0x1111111111111111111111111111111111111111';
  let transfer: { hash: Hex; blockHash: Hex; balanceAfter: bigint; senderBalance: bigint };
  let deployed: Address;
  let devnetRegistry: Address;
  let ourNodeId: bigint;

  it('starts, prints the endpoint table and accounts, and writes the manifest', async () => {
    devnet = await startDevnet(dir);
    const { manifest } = devnet;
    assert.equal(manifest.version, 1);
    assert.equal(manifest.dataDir, dir);
    assert.equal(manifest.chain.chainId, 31337);
    assert.equal(manifest.chain.accounts.length, 10);
    assert.equal(manifest.chain.accounts[0]!.address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    assert.match(manifest.chain.contracts.NodeRegistry!, /^0x[0-9a-fA-F]{40}$/);
    const out = devnet.stdout();
    assert.match(out, new RegExp(`chain\\s+${manifest.chain.rpc}`));
    assert.match(out, /Account #0: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 \(10000 ETH\)/);
    assert.match(out, /Private Key: 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80/);
  });

  it('lets viem read the chain id, transfer, deploy a contract and read NodeRegistry', async () => {
    const { client, wallet, account } = clients(devnet!, 1);
    assert.equal(await client.getChainId(), 31337);

    const hash = await wallet.sendTransaction({ to: recipient, value: parseEther('1.5') });
    const receipt = await client.waitForTransactionReceipt({ hash });
    assert.equal(receipt.status, 'success');
    transfer = {
      hash,
      blockHash: receipt.blockHash,
      balanceAfter: await client.getBalance({ address: recipient }),
      senderBalance: 0n,
    };
    assert.equal(transfer.balanceAfter, parseEther('1.5'));

    const deployHash = await wallet.deployContract({ abi: registryArtifact.abi, bytecode: registryArtifact.bytecode });
    deployed = (await client.waitForTransactionReceipt({ hash: deployHash })).contractAddress!;
    assert.notEqual(await client.getCode({ address: deployed }), undefined);

    devnetRegistry = devnet!.manifest.chain.contracts.NodeRegistry as Address;
    const chainNodes = (await client.readContract({
      address: devnetRegistry,
      abi: registryArtifact.abi,
      functionName: 'nodesByRole',
      args: ['chain'],
    })) as Node[];
    assert.equal(chainNodes.length, 1);
    assert.equal(chainNodes[0]!.url, devnet!.manifest.chain.rpc);
    assert.equal(getAddress(chainNodes[0]!.operator), devnet!.manifest.chain.accounts[0]!.address);

    const { request, result } = await client.simulateContract({
      account,
      address: devnetRegistry,
      abi: registryArtifact.abi,
      functionName: 'register',
      args: ['storage-node', 'http://127.0.0.1:9'],
    });
    ourNodeId = result as bigint;
    await client.waitForTransactionReceipt({ hash: await wallet.writeContract(request) });
    transfer.senderBalance = await client.getBalance({ address: account.address });
  });

  it('refuses a second levity up on the same data dir at once', async () => {
    const started = Date.now();
    const second = await runCli(['up', '--data-dir', dir, '--port-base', '0']);
    assert.notEqual(second.code, 0);
    assert.match(second.stderr, /data dir .* is in use by another levity process \(pid \d+\)/);
    assert.ok(Date.now() - started < 15_000);
  });

  it('reports health with levity status', async () => {
    const status = await runCli(['status', '--devnet', dir, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const report = JSON.parse(status.stdout) as { healthy: boolean; endpoints: { role: string; ok: boolean }[] };
    assert.equal(report.healthy, true);
    assert.deepEqual(report.endpoints.map((e) => e.role), [
      'chain',
      'indexer',
      'storage-node',
      'storage-node',
      'gateway',
      'mu',
      'su',
      'cu',
      'da-aggregator',
      'da-node',
      'da-node',
      'da-node',
      'da-node',
      'provider',
    ]);
  });

  it('stops cleanly on SIGTERM within 5 s', async () => {
    const { code, ms } = await devnet!.stop();
    devnet = undefined;
    assert.equal(code, 0);
    assert.ok(ms < 5000, `stop took ${ms} ms`);
    const status = await runCli(['status', '--devnet', dir, '--json']);
    assert.equal(status.code, 1);
  });

  it('comes back on the same data dir with the transfer, receipt, balances and nodes intact', async () => {
    devnet = await startDevnet(dir);
    const { client, account } = clients(devnet, 1);
    const receipt = await client.getTransactionReceipt({ hash: transfer.hash });
    assert.equal(receipt.status, 'success');
    assert.equal(receipt.blockHash, transfer.blockHash);
    assert.equal(await client.getBalance({ address: recipient }), transfer.balanceAfter);
    assert.equal(await client.getBalance({ address: account.address }), transfer.senderBalance);
    assert.ok(((await client.getCode({ address: deployed })) ?? '0x').length > 2);
    assert.equal(devnet.manifest.chain.contracts.NodeRegistry, devnetRegistry, 'contracts are not redeployed');

    const read = async (role: string) =>
      (await client.readContract({ address: devnetRegistry, abi: registryArtifact.abi, functionName: 'nodesByRole', args: [role] })) as Node[];
    const storage = await read('storage-node');
    assert.ok(storage.some((n) => n.id === ourNodeId && n.url === 'http://127.0.0.1:9'), 'our registration survived');
    assert.equal(storage.length, 3, 'ours plus the devnet two, not re-registered on restart');
    const chainNodes = await read('chain');
    assert.equal(chainNodes.length, 1, 'a restart updates the devnet entry instead of adding one');
    assert.equal(chainNodes[0]!.url, devnet.manifest.chain.rpc);
  });
});

describe('levity CLI usage', () => {
  it('exits 2 with a one-line reason on bad usage', async () => {
    for (const args of [['up', '--port-base', 'abc'], ['frobnicate'], ['node', '--role', 'nope'], ['up', '--log-level', 'loud']]) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stderr.trim().split('\n').length, 1, result.stderr);
      assert.match(result.stderr, /^levity: /);
    }
  });

  it('says where to look when there is no devnet', async () => {
    const result = await runCli(['status', '--devnet', join(tmpdir(), 'levity-no-such-devnet')]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no devnet manifest at .* \(start one with `levity up`/);
  });
});

describe('levity node --role chain', () => {
  it('runs the chain as a node of its own and stops on SIGTERM', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'levity-node-'));
    const node = await startNode(['--role', 'chain', '--data-dir', dir, '--port-base', '0']);
    try {
      assert.equal(node.endpoints[0]!.role, 'chain');
      assert.match(node.contracts.NodeRegistry!, /^0x/);
      const client = createPublicClient({ transport: http(node.endpoints[0]!.url) });
      assert.equal(await client.getChainId(), 31337);
    } finally {
      assert.equal(await node.stop(), 0);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
