/**
 * CU `/results` cursors (spec ao.md §3.3): btoa(JSON.stringify({timestamp, ordinate, cron, sort})).
 * `from`/`to` also accept a bare timestamp.
 */
import { Buffer } from 'node:buffer';
import { InvalidInputError } from '../errors.ts';

export type ResultSort = 'ASC' | 'DESC';

export type ResultCursor = { timestamp: number; ordinate: string; cron?: string; sort: ResultSort };

/** What `from`/`to` decode to: a full cursor, or only a timestamp when a bare one was given. */
export type DecodedResultCursor = { timestamp: number; ordinate?: string; cron?: string; sort?: ResultSort };

export function encodeResultCursor(c: ResultCursor): string {
  // Key order and an absent cron (dropped by JSON.stringify) match the reference CU's cursors.
  const json = JSON.stringify({ timestamp: c.timestamp, ordinate: c.ordinate, cron: c.cron, sort: c.sort });
  return Buffer.from(json, 'utf8').toString('base64');
}

function badCursor(text: string, why: string): InvalidInputError {
  return new InvalidInputError('AO_BAD_CURSOR', 'Invalid results cursor', {
    details: `${why} (got ${text.length > 80 ? `${text.length} characters` : JSON.stringify(text)})`,
  });
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeResultCursor(text: string): DecodedResultCursor {
  if (typeof text !== 'string' || text.length === 0) throw badCursor(String(text), 'empty cursor');
  if (/^\d{1,16}$/.test(text)) return { timestamp: Number(text) };
  if (!BASE64.test(text) || text.length % 4 === 1) throw badCursor(text, 'neither a timestamp nor a base64 cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw badCursor(text, 'the cursor is not base64 JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badCursor(text, 'the cursor is not an object');
  const { timestamp, ordinate, cron, sort } = parsed as Record<string, unknown>;
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw badCursor(text, 'the cursor has no valid timestamp');
  }
  const out: DecodedResultCursor = { timestamp };
  // The reference writes ordinates as strings; a number is accepted as its decimal text.
  if (typeof ordinate === 'string') out.ordinate = ordinate;
  else if (typeof ordinate === 'number' && Number.isFinite(ordinate)) out.ordinate = String(ordinate);
  else if (ordinate !== undefined && ordinate !== null) throw badCursor(text, 'the ordinate is not a string');
  if (typeof cron === 'string') out.cron = cron;
  else if (cron !== undefined && cron !== null) throw badCursor(text, 'the cron is not a string');
  if (sort === 'ASC' || sort === 'DESC') out.sort = sort;
  else if (sort !== undefined && sort !== null) throw badCursor(text, 'the sort is not ASC or DESC');
  return out;
}
