import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { blockCronFirings, compareCronTicks, cronTicksIn } from './cron.ts';
import type { CronTick, IndexedCron } from './cron.ts';

const T0 = 1_700_000_000_000;
const crons: IndexedCron[] = [
  { index: 0, kind: 'time', ms: 3000 },
  { index: 1, kind: 'blocks', blocks: 2 },
  { index: 2, kind: 'blocks', blocks: 3 },
];
/** Block h is stamped (h - 10) * 2 - 1 seconds after the process. */
const blockTs = (height: number) => T0 + ((height - 10) * 2 - 1) * 1000;
const label = (tick: CronTick) => (tick.kind === 'time' ? `t${(tick.timestamp - T0) / 1000}` : `b${tick.height}/${tick.cron}`);

describe('block cron firings', () => {
  it('lists (cron, height) for every block cron in (after, upTo], counted from the process height', () => {
    assert.deepEqual(blockCronFirings(crons, 10, 10, 16), [
      { cron: 1, height: 12 },
      { cron: 1, height: 14 },
      { cron: 1, height: 16 },
      { cron: 2, height: 13 },
      { cron: 2, height: 16 },
    ]);
    assert.deepEqual(blockCronFirings(crons, 10, 16, 16), []);
    assert.deepEqual(blockCronFirings(crons, 10, 16, 12), [], 'a window that goes backwards is empty');
  });
});

describe('cronTicksIn', () => {
  const window = (upToSeconds: number, upToHeight: number, holdLateBlocks = false) =>
    cronTicksIn({
      crons,
      processTimestamp: T0,
      afterTimestamp: T0,
      upToTimestamp: T0 + upToSeconds * 1000,
      blocks: blockCronFirings(crons, 10, 10, upToHeight).map((firing) => ({ ...firing, timestamp: blockTs(firing.height) })),
      holdLateBlocks,
    });

  it('merges time and block ticks by timestamp, then height, then cron index', () => {
    // b12 is stamped at 3 s like t3: the time tick goes first. b16 fires for both block crons.
    assert.deepEqual(window(10, 16).map(label), ['t3', 'b12/1', 'b13/2', 't6', 'b14/1', 't9', 'b16/1', 'b16/2']);
  });

  it('keeps block ticks stamped after the window when not holding them', () => {
    assert.deepEqual(window(4, 16).map(label), ['t3', 'b12/1', 'b13/2', 'b14/1', 'b16/1', 'b16/2']);
  });

  it('holds back block ticks stamped after the window, and every higher one', () => {
    assert.deepEqual(window(8, 16, true).map(label), ['t3', 'b12/1', 'b13/2', 't6', 'b14/1']);
  });

  it('orders a shuffled list the same way (a total order)', () => {
    const sorted = window(10, 16);
    const shuffled = [...sorted].reverse().sort(() => 0).sort(compareCronTicks);
    assert.deepEqual(shuffled, sorted);
    assert.equal(compareCronTicks({ kind: 'time', cron: 2, timestamp: 5 }, { kind: 'time', cron: 0, timestamp: 5 }) > 0, true);
  });
});
