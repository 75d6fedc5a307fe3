import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../errors.ts';
import { cronBlocksBetween, cronName, cronTagsFrom, cronTimestampsBetween, parseCronInterval, processCrons } from './cron.ts';

const isBadInterval = (e: unknown): boolean => e instanceof InvalidInputError && e.code === 'AO_BAD_CRON_INTERVAL';

/** The rule as the spec states it, checked at every whole second. */
function naiveTicks(processTs: number, after: number, upTo: number, intervalMs: number): number[] {
  const ticks: number[] = [];
  const origin = Math.floor(processTs / 1000);
  for (let s = Math.floor(after / 1000) + 1; s * 1000 <= upTo; s++) {
    const ts = s * 1000;
    // (d % (intervalMs/1000) == 0) in exact arithmetic: d*1000 is a multiple of intervalMs.
    if (((s - origin) * 1000) % intervalMs === 0 && ts !== processTs && ts > after) ticks.push(ts);
  }
  return ticks;
}

describe('parseCronInterval', () => {
  it('parses time and block intervals', () => {
    assert.deepEqual(parseCronInterval('10-minutes'), { kind: 'time', ms: 600_000 });
    assert.deepEqual(parseCronInterval('1-second'), { kind: 'time', ms: 1000 });
    assert.deepEqual(parseCronInterval('5-blocks'), { kind: 'blocks', blocks: 5 });
    assert.deepEqual(parseCronInterval('1-block'), { kind: 'blocks', blocks: 1 });
    assert.deepEqual(parseCronInterval('2-hours'), { kind: 'time', ms: 7_200_000 });
    assert.deepEqual(parseCronInterval('1-day'), { kind: 'time', ms: 86_400_000 });
    assert.deepEqual(parseCronInterval('1500-milliseconds'), { kind: 'time', ms: 1500 });
    assert.deepEqual(parseCronInterval('1-year'), { kind: 'time', ms: 31_557_600_000 });
    assert.deepEqual(parseCronInterval('1-month'), { kind: 'time', ms: 2_629_800_000 });
    assert.deepEqual(parseCronInterval(' 10-Minutes '), { kind: 'time', ms: 600_000 });
  });

  it('refuses bad intervals with AO_BAD_CRON_INTERVAL', () => {
    const bad = ['', '10', 'minutes', '10-', '-10-minutes', '0-seconds', '1.5-hours', '10-minute', '1-minutes', '2-block',
      '1-weeks', '10-fortnights', '999-milliseconds', '1-millisecond', '10 minutes', 'ten-minutes', '99999999999999999-years'];
    for (const text of bad) assert.throws(() => parseCronInterval(text), isBadInterval, text);
  });
});

describe('cron tags', () => {
  const tags = [
    { name: 'Type', value: 'Process' },
    { name: 'Cron-Interval', value: '10-blocks' },
    { name: 'Cron-Tag-Action', value: 'Cron' },
    { name: 'Cron-Tag-notify-function', value: 'transfer' },
    { name: 'Cron-Interval', value: ' 10-minutes ' },
    { name: 'Cron-Tag-Action', value: 'Tick' },
    { name: 'Cron-Tag-', value: 'ignored' },
  ];

  it('maps Cron-Tag-X to X', () => {
    assert.deepEqual(cronTagsFrom(tags), [
      { name: 'Action', value: 'Cron' },
      { name: 'notify-function', value: 'transfer' },
      { name: 'Action', value: 'Tick' },
    ]);
  });

  it('groups each interval with the Cron-Tag-* tags that follow it', () => {
    assert.deepEqual(processCrons(tags), [
      { interval: '10-blocks', tags: [{ name: 'Action', value: 'Cron' }, { name: 'notify-function', value: 'transfer' }] },
      { interval: '10-minutes', tags: [{ name: 'Action', value: 'Tick' }] },
    ]);
    assert.deepEqual(processCrons([{ name: 'Cron-Tag-Action', value: 'Cron' }, { name: 'Cron-Interval', value: '1-minute' }]), [
      { interval: '1-minute', tags: [{ name: 'Action', value: 'Cron' }] },
    ]);
    assert.deepEqual(processCrons([{ name: 'Type', value: 'Process' }]), []);
    assert.equal(cronName(0, '10-minutes'), '0-10-minutes');
  });
});

describe('cronTimestampsBetween', () => {
  it('fires on whole seconds counted from the process second, never at the process timestamp', () => {
    const processTs = 1_718_033_463_000;
    assert.deepEqual(cronTimestampsBetween(processTs, processTs - 30_000, processTs + 30_000, 10_000), [
      processTs - 30_000 + 10_000,
      processTs - 10_000,
      processTs + 10_000,
      processTs + 20_000,
      processTs + 30_000,
    ]);
    // A process timestamp with milliseconds: ticks land on whole seconds.
    assert.deepEqual(cronTimestampsBetween(1_000_500, 1_000_500, 1_020_000, 5000), [1_005_000, 1_010_000, 1_015_000, 1_020_000]);
  });

  it('treats after as exclusive and upTo as inclusive', () => {
    assert.deepEqual(cronTimestampsBetween(0, 10_000, 20_000, 10_000), [20_000]);
    assert.deepEqual(cronTimestampsBetween(0, 9_999, 19_999, 10_000), [10_000]);
    assert.deepEqual(cronTimestampsBetween(0, 20_000, 20_000, 10_000), []);
    assert.deepEqual(cronTimestampsBetween(0, 20_000, 10_000, 10_000), []);
  });

  it('matches the naive per-second rule', () => {
    let state = 7;
    const rand = (n: number): number => {
      state = (state * 1103515245 + 12345) >>> 0;
      return state % n;
    };
    const intervals = [1000, 2000, 1500, 2500, 7000, 60_000, 86_400_000, 1001];
    for (let round = 0; round < 400; round++) {
      const processTs = 1_700_000_000_000 + rand(10_000_000);
      const after = processTs - 50_000 + rand(200_000);
      const upTo = after + rand(400_000);
      const interval = intervals[rand(intervals.length)]!;
      assert.deepEqual(
        cronTimestampsBetween(processTs, after, upTo, interval),
        naiveTicks(processTs, after, upTo, interval),
        `${processTs} ${after} ${upTo} ${interval}`,
      );
    }
  });

  it('is O(ticks): a day-long cron over a century is quick', () => {
    const start = performance.now();
    const ticks = cronTimestampsBetween(0, 0, 100 * 365 * 86_400_000, 86_400_000);
    assert.equal(ticks.length, 36_500);
    assert.ok(performance.now() - start < 500);
  });

  it('refuses intervals under a second', () => {
    assert.throws(() => cronTimestampsBetween(0, 0, 10_000, 999), isBadInterval);
  });
});

describe('cronBlocksBetween', () => {
  it('fires when (height - processHeight) is a multiple of the interval', () => {
    assert.deepEqual(cronBlocksBetween(123_455, 124_990, 125_000, 5), [124_995, 125_000]);
    assert.deepEqual(cronBlocksBetween(123_457, 124_999, 125_000, 5), []);
    assert.deepEqual(cronBlocksBetween(10, 10, 14, 2), [12, 14]);
    assert.throws(() => cronBlocksBetween(0, 0, 10, 0), isBadInterval);
  });
});
