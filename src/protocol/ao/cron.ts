/**
 * Cron (spec ao.md §4.3): `Cron-Interval` values, the `Cron-Tag-*` tags that become the cron
 * message's tags, and when a time or block cron fires.
 */
import { InvalidInputError } from '../errors.ts';
import type { Tag } from '../ans104/types.ts';

export type CronInterval = { kind: 'time'; ms: number } | { kind: 'blocks'; blocks: number };

const SECOND = 1000;
const DAY = 86_400 * SECOND;
/** Years are 365.25 days as in the `ms` package the reference CU uses; a month is a twelfth of that. */
const YEAR = 365.25 * DAY;
const UNIT_MS: Record<string, number> = {
  millisecond: 1,
  second: SECOND,
  minute: 60 * SECOND,
  hour: 3600 * SECOND,
  day: DAY,
  month: YEAR / 12,
  year: YEAR,
};

const CRON_INTERVAL = 'Cron-Interval';
const CRON_TAG_PREFIX = 'Cron-Tag-';

function badInterval(text: string, why: string): InvalidInputError {
  return new InvalidInputError('AO_BAD_CRON_INTERVAL', 'Invalid cron interval', {
    details: `${JSON.stringify(text)}: ${why}`,
    meta: { interval: text },
  });
}

/**
 * Parses `N-unit` (e.g. `10-minutes`, `1-second`, `5-blocks`). As aoconnect's `serializeCron`
 * demands, the unit is singular exactly when N is 1; spaces around the parts and the unit's case
 * are ignored, as the CU ignores them. Time crons must be at least one second.
 */
export function parseCronInterval(text: string): CronInterval {
  if (typeof text !== 'string') throw badInterval(String(text), 'not a string');
  const match = /^\s*(\d+)\s*-\s*([A-Za-z]+)\s*$/.exec(text);
  if (match === null) throw badInterval(text, 'expected N-unit, such as 10-minutes or 5-blocks');
  const value = Number(match[1]);
  const unit = match[2]!.toLowerCase();
  if (!Number.isSafeInteger(value) || value < 1) throw badInterval(text, 'N must be a positive whole number');
  const plural = unit.endsWith('s');
  const base = plural ? unit.slice(0, -1) : unit;
  if (base !== 'block' && UNIT_MS[base] === undefined) {
    throw badInterval(text, 'the unit must be one of millisecond, second, minute, hour, day, month, year, block');
  }
  if (plural !== (value !== 1)) throw badInterval(text, value === 1 ? `use "1-${base}"` : `use "${value}-${base}s"`);
  if (base === 'block') return { kind: 'blocks', blocks: value };
  const ms = value * UNIT_MS[base]!;
  if (!Number.isSafeInteger(ms)) throw badInterval(text, 'the interval is too long');
  if (ms < SECOND) throw badInterval(text, 'time-based crons cannot be less than 1 second');
  return { kind: 'time', ms };
}

/** Every `Cron-Tag-X: v` as `X: v`, in order. */
export function cronTagsFrom(processTags: readonly Tag[]): Tag[] {
  const tags: Tag[] = [];
  for (const tag of processTags) {
    if (tag.name.startsWith(CRON_TAG_PREFIX) && tag.name.length > CRON_TAG_PREFIX.length) {
      tags.push({ name: tag.name.slice(CRON_TAG_PREFIX.length), value: tag.value });
    }
  }
  return tags;
}

export type ProcessCron = { interval: string; tags: Tag[] };

/**
 * The crons a process declares. Each `Cron-Interval` owns the `Cron-Tag-*` tags that follow it up
 * to the next `Cron-Interval`, as the reference CU groups them; tags written before the first
 * interval belong to the first. Intervals are returned trimmed and unparsed.
 */
export function processCrons(tags: readonly Tag[]): ProcessCron[] {
  const crons: ProcessCron[] = [];
  const leading: Tag[] = [];
  for (const tag of tags) {
    if (tag.name === CRON_INTERVAL) {
      crons.push({ interval: tag.value.trim(), tags: crons.length === 0 ? leading.splice(0) : [] });
    } else if (tag.name.startsWith(CRON_TAG_PREFIX) && tag.name.length > CRON_TAG_PREFIX.length) {
      const cronTag = { name: tag.name.slice(CRON_TAG_PREFIX.length), value: tag.value };
      (crons.at(-1)?.tags ?? leading).push(cronTag);
    }
  }
  return crons;
}

/** The cron's name in result cursors and de-duplication keys: `<index>-<interval>`. */
export function cronName(index: number, interval: string): string {
  return `${index}-${interval}`;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * Timestamps in (after, upTo] at which a time cron fires. Candidates are whole seconds; one fires
 * when (floor(ts/1000) - floor(processTs/1000)) is a multiple of the interval in seconds and
 * ts ≠ processTs. An interval that is not whole seconds (1500 ms) only lands on whole seconds every
 * intervalMs / gcd(intervalMs, 1000) seconds, so that is the step. O(number of ticks).
 */
export function cronTimestampsBetween(processTimestamp: number, after: number, upTo: number, intervalMs: number): number[] {
  if (!Number.isSafeInteger(intervalMs) || intervalMs < SECOND) {
    throw new InvalidInputError('AO_BAD_CRON_INTERVAL', 'Time-based crons cannot be less than 1 second', {
      details: `got ${intervalMs} ms`,
    });
  }
  const ticks: number[] = [];
  if (!(upTo > after)) return ticks;
  const stepSeconds = intervalMs / gcd(intervalMs, SECOND);
  const originSecond = Math.floor(processTimestamp / SECOND);
  const firstSecond = Math.floor(after / SECOND) + 1;
  const lastSecond = Math.floor(upTo / SECOND);
  // The first multiple of the step at or after firstSecond, counting from the origin.
  const offset = (((firstSecond - originSecond) % stepSeconds) + stepSeconds) % stepSeconds;
  for (let s = offset === 0 ? firstSecond : firstSecond + stepSeconds - offset; s <= lastSecond; s += stepSeconds) {
    const ts = s * SECOND;
    if (ts !== processTimestamp) ticks.push(ts);
  }
  return ticks;
}

/** Block heights in (after, upTo] on which a block cron fires: (height - processHeight) % blocks == 0. */
export function cronBlocksBetween(processHeight: number, after: number, upTo: number, blocks: number): number[] {
  if (!Number.isSafeInteger(blocks) || blocks < 1) {
    throw new InvalidInputError('AO_BAD_CRON_INTERVAL', 'A block cron needs a positive whole number of blocks', {
      details: `got ${blocks}`,
    });
  }
  const heights: number[] = [];
  const first = Math.floor(after) + 1;
  const offset = (((first - processHeight) % blocks) + blocks) % blocks;
  for (let h = offset === 0 ? first : first + blocks - offset; h <= upTo; h += blocks) heights.push(h);
  return heights;
}

/**
 * One cron firing: a time tick at a whole second, or a block tick at a height, stamped with
 * that block's timestamp (ms). `cron` is the cron's index in the process's tags (see `cronName`).
 */
export type CronTick = { kind: 'time'; cron: number; timestamp: number } | { kind: 'block'; cron: number; timestamp: number; height: number };

/**
 * The order ticks between two evaluated messages fire in: by timestamp, then by height, then by
 * the cron's index. A time tick has no block of its own: it counts as the block before it, which
 * is below every block tick of the same gap, so at one timestamp time ticks go first. For sort().
 */
export function compareCronTicks(a: CronTick, b: CronTick): number {
  if (a.timestamp !== b.timestamp) return a.timestamp - b.timestamp;
  if (a.kind !== b.kind) return a.kind === 'time' ? -1 : 1;
  if (a.kind === 'block' && b.kind === 'block' && a.height !== b.height) return a.height - b.height;
  return a.cron - b.cron;
}

/** A parsed cron of a process; `index` is its place among the `Cron-Interval` tags (see `cronName`). */
export type IndexedCron = { index: number } & ({ kind: 'time'; ms: number } | { kind: 'blocks'; blocks: number });

/** Every (cron, height) at which a block cron fires in (afterHeight, upToHeight]. */
export function blockCronFirings(crons: readonly IndexedCron[], processHeight: number, afterHeight: number, upToHeight: number): { cron: number; height: number }[] {
  const firings: { cron: number; height: number }[] = [];
  for (const cron of crons) {
    if (cron.kind !== 'blocks') continue;
    for (const height of cronBlocksBetween(processHeight, afterHeight, upToHeight, cron.blocks)) firings.push({ cron: cron.index, height });
  }
  return firings;
}

export type CronWindowInput = {
  crons: readonly IndexedCron[];
  processTimestamp: number;
  /** Time ticks fire in (afterTimestamp, upToTimestamp]. */
  afterTimestamp: number;
  upToTimestamp: number;
  /** The block firings of the window (`blockCronFirings`), each with its block's timestamp in ms. */
  blocks: readonly { cron: number; height: number; timestamp: number }[];
  /**
   * Leave out block ticks stamped after upToTimestamp, and every higher one: they may yet sort
   * after a time tick past the window. Block times grow with height, so what stays is a prefix.
   */
  holdLateBlocks: boolean;
};

/** The ticks of one window between evaluated messages, time and block crons together, in firing order. */
export function cronTicksIn(input: CronWindowInput): CronTick[] {
  let held = Number.POSITIVE_INFINITY;
  if (input.holdLateBlocks) {
    for (const block of input.blocks) if (block.timestamp > input.upToTimestamp) held = Math.min(held, block.height);
  }
  const ticks: CronTick[] = input.blocks
    .filter((block) => block.height < held)
    .map((block) => ({ kind: 'block', cron: block.cron, height: block.height, timestamp: block.timestamp }));
  for (const cron of input.crons) {
    if (cron.kind !== 'time') continue;
    for (const at of cronTimestampsBetween(input.processTimestamp, input.afterTimestamp, input.upToTimestamp, cron.ms)) ticks.push({ kind: 'time', cron: cron.index, timestamp: at });
  }
  return ticks.sort(compareCronTicks);
}
