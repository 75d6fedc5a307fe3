import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, appendFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, createWalletClient, http, parseEther, webSocket } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { foundry } from 'viem/chains';
import { createLogger } from '../shared/log.ts';
import { createEmbeddedChain } from './embedded-chain.ts';
import type { EmbeddedChain } from './embedded-chain.ts';

const genesis = {
  chainId: 31337,
  hardfork: 'prague' as const,
  mnemonic: 'test test test test test test test test test test test junk',
  accounts: 3,
  balanceEth: 100,
};
const log = createLogger({ level: 'silent' });
const recipient = '0x000000000000000000000000000000000000bEEF';

describe('embedded chain', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-chain-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (): Promise<EmbeddedChain> => {
    const chain = createEmbeddedChain({ dataDir: dir, host: '127.0.0.1', port: 0, genesis, log });
    await chain.start();
    return chain;
  };

  it('serves JSON-RPC and keeps blocks, receipts and balances across restarts', async () => {
    let chain = await start();
    const account = privateKeyToAccount(chain.accounts[0]!.privateKey);
    const wallet = createWalletClient({ account, chain: foundry, transport: http(chain.url) });
    const client = createPublicClient({ chain: foundry, transport: http(chain.url) });
    assert.equal(await client.getChainId(), 31337);

    const hashes: `0x${string}`[] = [];
    for (let i = 1; i <= 3; i++) hashes.push(await wallet.sendTransaction({ to: recipient, value: parseEther(String(i)) }));
    const receipt = await client.getTransactionReceipt({ hash: hashes[2]! });
    const block = await client.getBlock({ blockNumber: receipt.blockNumber });
    await chain.stop();

    chain = await start();
    const client2 = createPublicClient({ chain: foundry, transport: http(chain.url) });
    assert.equal(await client2.getBalance({ address: recipient }), parseEther('6'));
    const receipt2 = await client2.getTransactionReceipt({ hash: hashes[2]! });
    assert.equal(receipt2.status, 'success');
    assert.equal(receipt2.blockHash, receipt.blockHash);
    assert.deepEqual(await client2.getBlock({ blockNumber: receipt.blockNumber }), block);

    // New blocks carry wall-clock time again, not the replayed timestamps.
    const wallet2 = createWalletClient({ account, chain: foundry, transport: http(chain.url) });
    const next = await client2.waitForTransactionReceipt({ hash: await wallet2.sendTransaction({ to: recipient, value: 1n }) });
    const nextBlock = await client2.getBlock({ blockNumber: next.blockNumber });
    assert.ok(Math.abs(Number(nextBlock.timestamp) - Date.now() / 1000) < 30);
    await chain.stop();
  });

  it('drops a torn journal tail left by a crash and keeps everything before it', async () => {
    const journal = join(dir, 'journal.ndjson');
    const before = (await readFile(journal, 'utf8')).split('\n').length;
    await appendFile(journal, '{"method":"eth_sendRawTransaction","par');
    const chain = await start();
    const client = createPublicClient({ chain: foundry, transport: http(chain.url) });
    assert.equal(await client.getBalance({ address: recipient }), parseEther('6') + 1n);
    assert.equal((await readFile(journal, 'utf8')).split('\n').length, before);
    await chain.stop();
  });

  it('answers malformed JSON-RPC with error objects, not crashes', async () => {
    const chain = await start();
    try {
      const post = async (body: string) => {
        const res = await fetch(chain.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        return { status: res.status, json: (await res.json()) as Record<string, any> };
      };
      assert.equal((await post('{nope')).json.error.code, -32700);
      assert.equal((await post('[]')).json.error.code, -32600);
      assert.equal((await post('{"jsonrpc":"2.0","id":1}')).json.error.code, -32600);
      const unknown = await post('{"jsonrpc":"2.0","id":7,"method":"eth_nope","params":[]}');
      assert.equal(unknown.json.id, 7);
      assert.ok(unknown.json.error.code < 0);
      const batch = await post('[{"jsonrpc":"2.0","id":1,"method":"eth_chainId"},{"jsonrpc":"2.0","id":2,"method":"eth_blockNumber"}]');
      assert.equal((batch.json as unknown as any[]).length, 2);
      const health = await fetch(`${chain.url}/health`);
      assert.equal(health.status, 200);
      assert.match(await (await fetch(`${chain.url}/metrics`)).text(), /levity_chain_block_number\{role="chain"\} \d+/);
    } finally {
      await chain.stop();
    }
  });

  it('pushes newHeads over WebSocket', async () => {
    const chain = await start();
    try {
      const client = createPublicClient({ chain: foundry, transport: webSocket(chain.wsUrl) });
      const seen = new Promise<bigint>((resolve) => {
        const unwatch = client.watchBlockNumber({ onBlockNumber: (n) => (unwatch(), resolve(n)), emitOnBegin: false });
      });
      await new Promise((r) => setTimeout(r, 200));
      const account = privateKeyToAccount(chain.accounts[1]!.privateKey);
      const wallet = createWalletClient({ account, chain: foundry, transport: http(chain.url) });
      await wallet.sendTransaction({ to: recipient, value: 1n });
      assert.ok((await seen) > 0n);
      await (await client.transport.getRpcClient()).close();
    } finally {
      await chain.stop();
    }
  });
});
