/**
 * Lua 5.4 pattern matching (reference manual §6.4.1) over byte strings, metered: every matcher
 * step counts against a budget, and a match that runs past it stops with a `limit` outcome.
 * The CU runs this instead of the C matcher when a call could be too costly to leave unmetered,
 * so results, error messages and the "pattern too complex" depth limit follow Lua 5.4 exactly.
 * Offsets are 0-based and ends exclusive; the string-library wrappers convert to Lua's 1-based.
 */

import { LUA_CAP_POSITION, LUA_CAP_UNFINISHED, luaPatternIsPlain, matchFind, matchScan } from './lua-pattern-match.ts';

export { LUA_CAP_POSITION, LUA_CAP_UNFINISHED, LUA_MAX_CAPTURES, luaClassMatches, luaPatternIsPlain } from './lua-pattern-match.ts';

/** A capture as the matcher left it: `length` is a byte count, LUA_CAP_POSITION or LUA_CAP_UNFINISHED. */
export type LuaRawCapture = { start: number; length: number };
export type LuaPatternMatch = { kind: 'match'; start: number; end: number; captures: LuaRawCapture[]; steps: number };
export type LuaPatternFailure = { kind: 'error'; message: string; steps: number } | { kind: 'limit'; steps: number };
export type LuaPatternOutcome = LuaPatternMatch | { kind: 'none'; steps: number } | LuaPatternFailure;
/** A capture's value: bytes of the subject, or a position capture's 1-based position. */
export type LuaCaptureValue = { kind: 'bytes'; start: number; end: number } | { kind: 'position'; value: number };

/** Lua's posrelatI: a 1-based start position from an init argument that may count from the end. */
export function luaStartPosition(init: number, length: number): number {
  if (init > 0) return init;
  if (init === 0 || init < -length) return 1;
  return length + init + 1;
}

export type LuaFindOptions = {
  /** string.find's plain flag; string.find also searches plainly when the pattern has no specials. */
  plain: boolean;
  /** string.find (true) or string.match (false): only find takes the plain shortcut. */
  find: boolean;
  /** Steps allowed before the outcome is `limit`. */
  budget: number;
};

/** The first match at or after `init` (1-based, negative counts from the end), as string.find and string.match search. */
export function luaPatternFind(subject: Uint8Array, pattern: Uint8Array, init: number, options: LuaFindOptions): LuaPatternOutcome {
  const from = luaStartPosition(init, subject.length) - 1;
  if (from > subject.length) return { kind: 'none', steps: 0 };
  return matchFind(subject, pattern, from, options.find && (options.plain || luaPatternIsPlain(pattern)), options.budget);
}

export type LuaScanOptions = {
  /** Index (0-based) where the previous match ended, or -1: an empty match there is skipped, as gmatch and gsub do. */
  lastMatch: number;
  /** A leading `^` anchors (gsub): only `from` is tried. gmatch passes false, and `^` is then an ordinary character. */
  anchored: boolean;
  budget: number;
};

/** The next match for string.gmatch and string.gsub, trying positions `from`, `from + 1`, ... */
export function luaPatternScan(subject: Uint8Array, pattern: Uint8Array, from: number, options: LuaScanOptions): LuaPatternOutcome {
  return matchScan(subject, pattern, from, options.lastMatch, options.anchored, options.budget);
}

/**
 * Capture `index` (0-based) of a match as Lua pushes it: with no captures, index 0 is the whole
 * match; an index past the captures, or a capture never closed, is an error with Lua's message.
 */
export function luaCaptureValue(match: LuaPatternMatch, index: number): LuaCaptureValue | { kind: 'error'; message: string } {
  const capture = match.captures[index];
  if (capture === undefined) {
    if (index !== 0) return { kind: 'error', message: `invalid capture index %${index + 1}` };
    return { kind: 'bytes', start: match.start, end: match.end };
  }
  if (capture.length === LUA_CAP_UNFINISHED) return { kind: 'error', message: 'unfinished capture' };
  if (capture.length === LUA_CAP_POSITION) return { kind: 'position', value: capture.start + 1 };
  return { kind: 'bytes', start: capture.start, end: capture.start + capture.length };
}

/** Every value string.match, gmatch or a gsub function receives: the captures, or the whole match when there are none. */
export function luaCaptureValues(match: LuaPatternMatch, wholeIfNone: boolean): LuaCaptureValue[] | { kind: 'error'; message: string } {
  const count = match.captures.length === 0 && wholeIfNone ? 1 : match.captures.length;
  const values: LuaCaptureValue[] = [];
  for (let i = 0; i < count; i++) {
    const value = luaCaptureValue(match, i);
    if (value.kind === 'error') return value;
    values.push(value);
  }
  return values;
}
