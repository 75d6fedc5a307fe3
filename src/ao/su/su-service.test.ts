import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer } from '../../protocol/ans104/index.ts';
import { createSuService } from './su-service.ts';
import { sqliteSuStore } from './su-store.ts';

const user = ed25519Signer(randomBytes(32));
const processTags = [
  { name: 'Data-Protocol', value: 'ao' },
  { name: 'Variant', value: 'ao.TN.1' },
  { name: 'Type', value: 'Process' },
  { name: 'Module', value: 'm'.repeat(43) },
  { name: 'Scheduler', value: 's'.repeat(43) },
];

test('a slot is never stamped below a height the clock already handed out, though its height was read first', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'levity-su-service-'));
  const store = sqliteSuStore(join(dir, 'su.sqlite'));
  try {
    // The chain reads 5, then moves to 9: the message reads 5 before it queues, a CU's clock read 9 meanwhile.
    let chainHeight = 5;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holdNext = false;
    const service = createSuService({
      store,
      signer: ed25519Signer(randomBytes(32)),
      blockHeight: async () => {
        const read = chainHeight;
        if (holdNext) {
          holdNext = false;
          await held;
        }
        return read;
      },
    });
    const spawn = await createDataItem({ signer: user, tags: processTags, data: 'x' });
    await service.schedule(spawn.raw);
    const message = await createDataItem({ signer: user, target: spawn.id, tags: [{ name: 'Data-Protocol', value: 'ao' }, { name: 'Variant', value: 'ao.TN.1' }, { name: 'Type', value: 'Message' }], data: '' });
    holdNext = true;
    const scheduling = service.schedule(message.raw);
    chainHeight = 9;
    const clock = await service.clock();
    release();
    const slot = await scheduling;
    assert.equal(clock.blockHeight, 9);
    assert.ok(slot.timestamp > clock.timestamp, 'the slot is later in time');
    assert.equal(store.latest(spawn.id)?.blockHeight, 9, 'stamped with the height the clock gave, not the older one it read');
  } finally {
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
