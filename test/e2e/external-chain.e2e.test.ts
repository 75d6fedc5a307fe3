import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicClient, http } from 'viem';
import type { Address } from 'viem';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';

describe('levity up --chain-rpc: an external EVM instead of the embedded chain', () => {
  let root: string;
  let provider: RunningDevnet | undefined;
  let guest: RunningDevnet | undefined;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'levity-ext-'));
    provider = await startDevnet(join(root, 'provider'));
  });
  after(async () => {
    await guest?.stop();
    await provider?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const guestArgs = () => {
    const { rpc, accounts } = provider!.manifest.chain;
    return ['--chain-rpc', rpc, '--chain-key', accounts[3]!.privateKey];
  };

  it('deploys its own contracts on the external chain and lists them in its manifest', async () => {
    guest = await startDevnet(join(root, 'guest'), guestArgs());
    const ours = guest.manifest.chain;
    const theirs = provider!.manifest.chain;
    assert.equal(ours.rpc, theirs.rpc);
    assert.equal(ours.chainId, theirs.chainId);
    assert.deepEqual(ours.accounts.map((a) => a.address), [theirs.accounts[3]!.address]);
    const registry = ours.contracts.NodeRegistry as Address;
    assert.ok(registry);
    assert.notEqual(registry, theirs.contracts.NodeRegistry, 'a contract of its own, not the host devnet one');

    const client = createPublicClient({ transport: http(theirs.rpc) });
    assert.ok(((await client.getCode({ address: registry })) ?? '0x').length > 2, 'code lives on the external chain');
    assert.doesNotMatch(guest.stdout(), /chain \(ws\)/, 'no embedded chain endpoint is printed');
  });

  it('reuses its deployment on restart, and the addresses of an existing manifest', async () => {
    const first = guest!.manifest.chain.contracts;
    await guest!.stop();
    guest = await startDevnet(join(root, 'guest'), guestArgs());
    assert.deepEqual(guest.manifest.chain.contracts, first);

    // Without its deployment record, the manifest's addresses are still recognised as ours.
    await guest.stop();
    await rm(join(root, 'guest', 'deployments.json'));
    guest = await startDevnet(join(root, 'guest'), guestArgs());
    assert.deepEqual(guest.manifest.chain.contracts, first);
  });

  it('fails with a clear message when the external chain is unreachable', async () => {
    await assert.rejects(
      startDevnet(join(root, 'lost'), ['--chain-rpc', 'http://127.0.0.1:9', '--chain-key', provider!.manifest.chain.accounts[4]!.privateKey]),
      /cannot reach the chain at http:\/\/127\.0\.0\.1:9/,
    );
  });
});
