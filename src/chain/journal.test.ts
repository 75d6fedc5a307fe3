import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LevityError } from '../protocol/errors.ts';
import { openJournal } from './journal.ts';
import type { JournalRecord } from './journal.ts';

/** Open file descriptors of this process, where the platform shows them (Linux). */
async function openFds(): Promise<number | undefined> {
  return readdir('/proc/self/fd').then((fds) => fds.length, () => undefined);
}

describe('openJournal', () => {
  let dir: string;
  let path: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-journal-'));
    path = join(dir, 'chain', 'journal.ndjson');
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts empty and creates its directory', async () => {
    const journal = await openJournal(path);
    assert.deepEqual(journal.records, []);
    await journal.close();
    assert.equal(await readFile(path, 'utf8'), '');
  });

  it('returns appended records in order on reopen, blockTimestamp included', async () => {
    const written: JournalRecord[] = [
      { method: 'hardhat_setBalance', params: ['0xabc', '0x10'] },
      { method: 'eth_sendRawTransaction', params: ['0x02f8'], blockTimestamp: 1_700_000_000 },
      { method: 'evm_mine', params: [], blockTimestamp: 1_700_000_012 },
    ];
    const journal = await openJournal(path);
    for (const record of written) await journal.append(record);
    await journal.close();

    const reopened = await openJournal(path);
    assert.deepEqual(reopened.records, written);
    assert.equal('blockTimestamp' in (reopened.records[0] ?? {}), false);
    await reopened.append({ method: 'evm_mine', params: [] });
    await reopened.close();

    const again = await openJournal(path);
    assert.equal(again.records.length, 4);
    await again.close();
  });

  it('cuts off a torn last line and appends cleanly after it', async () => {
    const good = `${JSON.stringify({ method: 'evm_mine', params: [] })}\n`;
    await (await openJournal(path)).close();
    await writeFile(path, `${good}{"method":"eth_sendRawTr`);

    const journal = await openJournal(path);
    assert.deepEqual(journal.records, [{ method: 'evm_mine', params: [] }]);
    assert.equal(await readFile(path, 'utf8'), good, 'the torn bytes are gone from disk');
    await journal.append({ method: 'evm_increaseTime', params: [60] });
    await journal.close();

    const reopened = await openJournal(path);
    assert.deepEqual(reopened.records, [
      { method: 'evm_mine', params: [] },
      { method: 'evm_increaseTime', params: [60] },
    ]);
    await reopened.close();
  });

  it('cuts a torn tail after multi-byte text at the right byte', async () => {
    const good = `${JSON.stringify({ method: 'evm_mine', params: ['héllo ✓'] })}\n`;
    await (await openJournal(path)).close();
    await writeFile(path, `${good}{"method":"ü`);
    const journal = await openJournal(path);
    assert.equal(journal.records.length, 1);
    await journal.close();
    assert.equal(await readFile(path, 'utf8'), good);
  });

  for (const [label, line] of [
    ['invalid JSON', '{"method":'],
    ['a record without params', '{"method":"evm_mine"}'],
    ['a non-numeric blockTimestamp', '{"method":"evm_mine","params":[],"blockTimestamp":"soon"}'],
    ['an empty line', ''],
  ] as const) {
    it(`refuses a damaged middle line: ${label}`, async () => {
      await (await openJournal(path)).close();
      const good = JSON.stringify({ method: 'evm_mine', params: [] });
      await writeFile(path, `${good}\n${line}\n${good}\n`);
      const fdsBefore = await openFds();
      await assert.rejects(openJournal(path), (error) => {
        assert.ok(error instanceof LevityError);
        assert.equal(error.code, 'CHAIN_JOURNAL_CORRUPT');
        assert.match(error.shortMessage, new RegExp(`at byte ${good.length + 1}$`));
        assert.ok(error.cause !== undefined);
        return true;
      });
      assert.equal(await openFds(), fdsBefore, 'the file is closed again');
    });
  }

  it('reports the byte offset of the damage after multi-byte text', async () => {
    await (await openJournal(path)).close();
    const good = JSON.stringify({ method: 'evm_mine', params: ['✓'] });
    await writeFile(path, `${good}\nnot json\n`);
    await assert.rejects(openJournal(path), { code: 'CHAIN_JOURNAL_CORRUPT', shortMessage: new RegExp(`at byte ${Buffer.byteLength(good) + 1}$`) });
  });

  it('refuses to append after close, and close twice is harmless', async () => {
    const journal = await openJournal(path);
    await journal.close();
    await journal.close();
    await assert.rejects(journal.append({ method: 'evm_mine', params: [] }), (error) => {
      assert.ok(error instanceof LevityError);
      assert.equal(error.code, 'CHAIN_JOURNAL_CLOSED');
      return true;
    });
    assert.equal(await readFile(path, 'utf8'), '');
  });
});
