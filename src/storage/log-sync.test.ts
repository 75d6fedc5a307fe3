import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PublicClient } from 'viem';
import { loadKeccak } from '../protocol/storage/index.ts';
import { createLogger } from '../shared/log.ts';
import { createLogSync } from './log-sync.ts';
import { sqliteTxStore } from './tx-store.ts';

describe('log sync', () => {
  it('reads the chain one read at a time, and callers that arrive during a read share the next', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'levity-log-sync-'));
    const store = sqliteTxStore(join(dir, 'meta.sqlite'));
    let reads = 0;
    let active = 0;
    let most = 0;
    const client = {
      async getBlockNumber() {
        reads++;
        active++;
        most = Math.max(most, active);
        await new Promise((resolve) => setTimeout(resolve, 20));
        active--;
        return 5n;
      },
      async getLogs() {
        return [];
      },
    } as unknown as PublicClient;
    const sync = createLogSync({ client, flow: '0x0000000000000000000000000000000000000001', store, keccak: await loadKeccak(), log: createLogger({ level: 'silent' }) });
    try {
      // One read starts; the next four all arrive while it runs and share one more read.
      await Promise.all([sync.syncOnce(), sync.syncOnce(), sync.syncOnce(), sync.syncOnce(), sync.syncOnce()]);
      assert.equal(most, 1, 'never two reads at once');
      assert.equal(reads, 2);
      assert.equal(store.syncedBlock(), 5);
    } finally {
      await sync.stop();
      store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
