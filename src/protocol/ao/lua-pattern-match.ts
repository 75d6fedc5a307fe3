/**
 * The matcher behind lua-pattern.ts: Lua 5.4's backtracking algorithm over bytes, including its
 * limits (32 captures, 200 nested matcher calls before "pattern too complex") and its error
 * messages, counting a step per character test and per matcher call.
 */
import type { LuaPatternFailure, LuaPatternOutcome, LuaRawCapture } from './lua-pattern.ts';

/** Lua's LUA_MAXCAPTURES. */
export const LUA_MAX_CAPTURES = 32;
/** Lua's MAXCCALLS for the matcher: nested matcher calls allowed before "pattern too complex". */
const MAX_DEPTH = 200;
export const LUA_CAP_UNFINISHED = -1;
export const LUA_CAP_POSITION = -2;

const PERCENT = 0x25;
const SPECIALS = new Uint8Array(256);
for (const c of '^$*+?.([%-') SPECIALS[c.charCodeAt(0)] = 1;

// Character classes in the C locale, which is the one the Lua state runs in.
const CLASSES = new Map<number, Uint8Array>();
function defineClass(letter: string, test: (c: number) => boolean): void {
  const table = new Uint8Array(256);
  for (let c = 0; c < 256; c++) table[c] = test(c) ? 1 : 0;
  CLASSES.set(letter.charCodeAt(0), table);
}
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isLower = (c: number) => c >= 0x61 && c <= 0x7a;
const isUpper = (c: number) => c >= 0x41 && c <= 0x5a;
const isAlpha = (c: number) => isLower(c) || isUpper(c);
const isGraph = (c: number) => c >= 0x21 && c <= 0x7e;
defineClass('a', isAlpha);
defineClass('c', (c) => c < 0x20 || c === 0x7f);
defineClass('d', isDigit);
defineClass('g', isGraph);
defineClass('l', isLower);
defineClass('p', (c) => isGraph(c) && !isAlpha(c) && !isDigit(c));
defineClass('s', (c) => c === 0x20 || (c >= 0x09 && c <= 0x0d));
defineClass('u', isUpper);
defineClass('w', (c) => isAlpha(c) || isDigit(c));
defineClass('x', (c) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46));
// Not in the 5.4 manual any more, but Lua 5.4 still accepts %z for the zero byte.
defineClass('z', (c) => c === 0);
const CLASS_TABLES: (Uint8Array | undefined)[] = Array.from({ length: 256 }, (_, c) => CLASSES.get(isUpper(c) ? c + 32 : c));

/** Does byte `c` belong to the class named by the letter after a `%`? Non-letters stand for themselves. */
export function luaClassMatches(c: number, letter: number): boolean {
  const table = CLASS_TABLES[letter];
  if (table === undefined) return letter === c;
  return isUpper(letter) ? table[c] === 0 : table[c] === 1;
}

/** True when the pattern has none of Lua's special characters, so string.find may search it as plain text. */
export function luaPatternIsPlain(pattern: Uint8Array): boolean {
  for (let i = 0; i < pattern.length; i++) if (SPECIALS[pattern[i]!] === 1) return false;
  return true;
}

class PatternError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}
const LIMIT = Symbol('limit');

type State = {
  s: Uint8Array;
  p: Uint8Array;
  level: number;
  depth: number;
  steps: number;
  budget: number;
  capStart: Int32Array;
  capLength: Int32Array;
};

// Matching never calls out, so one state serves every call; gmatch and gsub scan once per match.
const EMPTY = new Uint8Array(0);
const shared: State = {
  s: EMPTY,
  p: EMPTY,
  level: 0,
  depth: MAX_DEPTH,
  steps: 0,
  budget: 0,
  capStart: new Int32Array(LUA_MAX_CAPTURES),
  capLength: new Int32Array(LUA_MAX_CAPTURES),
};

function newState(s: Uint8Array, p: Uint8Array, budget: number): State {
  shared.s = s;
  shared.p = p;
  shared.level = 0;
  shared.depth = MAX_DEPTH;
  shared.steps = 0;
  shared.budget = budget;
  return shared;
}

function step(st: State, n: number): void {
  st.steps += n;
  if (st.steps > st.budget) throw LIMIT;
}

function pat(st: State, i: number): number {
  return i < st.p.length ? st.p[i]! : 0;
}

/** Index just past the single-character class starting at `pi` (`x`, `.`, `%x` or `[set]`). */
function classEnd(st: State, pi: number): number {
  const p = st.p;
  const c = p[pi++];
  if (c === PERCENT) {
    if (pi >= p.length) throw new PatternError("malformed pattern (ends with '%')");
    return pi + 1;
  }
  if (c === 0x5b) {
    if (pat(st, pi) === 0x5e) pi++;
    // The first character after `[` (or `[^`) is part of the set even when it is `]`.
    do {
      if (pi >= p.length) throw new PatternError("malformed pattern (missing ']')");
      const d = p[pi++];
      if (d === PERCENT && pi < p.length) pi++;
    } while (pat(st, pi) !== 0x5d);
    return pi + 1;
  }
  return pi;
}

/** Does `c` belong to the set whose `[` is at `pi` and whose closing `]` is at `ec`? */
function inSet(st: State, c: number, pi: number, ec: number): boolean {
  const p = st.p;
  let yes = true;
  if (p[pi + 1] === 0x5e) {
    yes = false;
    pi++;
  }
  while (++pi < ec) {
    const d = p[pi]!;
    if (d === PERCENT) {
      pi++;
      if (luaClassMatches(c, p[pi]!)) return yes;
    } else if (p[pi + 1] === 0x2d && pi + 2 < ec) {
      pi += 2;
      if (d <= c && c <= p[pi]!) return yes;
    } else if (d === c) {
      return yes;
    }
  }
  return !yes;
}

function singleMatch(st: State, si: number, pi: number, ep: number): boolean {
  if (si >= st.s.length) return false;
  const c = st.s[si]!;
  const d = st.p[pi];
  if (d === 0x2e) {
    step(st, 1);
    return true;
  }
  if (d === PERCENT) {
    step(st, 1);
    return luaClassMatches(c, st.p[pi + 1]!);
  }
  if (d === 0x5b) {
    step(st, ep - pi);
    return inSet(st, c, pi, ep - 1);
  }
  step(st, 1);
  return d === c;
}

/** The end of a match of the pattern from `pi` against the subject from `si`, or -1. */
function doMatch(st: State, si: number, pi: number): number {
  if (st.depth-- === 0) throw new PatternError('pattern too complex');
  step(st, 1);
  const result = matchItems(st, si, pi);
  st.depth++;
  return result;
}

function matchItems(st: State, si: number, pi: number): number {
  const p = st.p;
  const s = st.s;
  for (;;) {
    if (pi >= p.length) return si;
    const c = p[pi]!;
    if (c === 0x28) {
      return p[pi + 1] === 0x29 ? startCapture(st, si, pi + 2, LUA_CAP_POSITION) : startCapture(st, si, pi + 1, LUA_CAP_UNFINISHED);
    }
    if (c === 0x29) return endCapture(st, si, pi + 1);
    if (c === 0x24 && pi + 1 === p.length) return si === s.length ? si : -1;
    if (c === PERCENT) {
      const next = pat(st, pi + 1);
      if (next === 0x62) {
        si = matchBalance(st, si, pi + 2);
        if (si === -1) return -1;
        pi += 4;
        continue;
      }
      if (next === 0x66) {
        pi += 2;
        if (pat(st, pi) !== 0x5b) throw new PatternError("missing '[' after '%f' in pattern");
        const ep = classEnd(st, pi);
        const previous = si === 0 ? 0 : s[si - 1]!;
        const current = si < s.length ? s[si]! : 0;
        step(st, 2 * (ep - pi));
        if (!inSet(st, previous, pi, ep - 1) && inSet(st, current, pi, ep - 1)) {
          pi = ep;
          continue;
        }
        return -1;
      }
      if (next >= 0x30 && next <= 0x39) {
        si = matchBackReference(st, si, next);
        if (si === -1) return -1;
        pi += 2;
        continue;
      }
    }
    const ep = classEnd(st, pi);
    const suffix = pat(st, ep);
    if (!singleMatch(st, si, pi, ep)) {
      // `*`, `?` and `-` accept zero repetitions; anything else fails here.
      if (suffix === 0x2a || suffix === 0x3f || suffix === 0x2d) {
        pi = ep + 1;
        continue;
      }
      return -1;
    }
    if (suffix === 0x3f) {
      const res = doMatch(st, si + 1, ep + 1);
      if (res !== -1) return res;
      pi = ep + 1;
      continue;
    }
    if (suffix === 0x2b) return maxExpand(st, si + 1, pi, ep);
    if (suffix === 0x2a) return maxExpand(st, si, pi, ep);
    if (suffix === 0x2d) return minExpand(st, si, pi, ep);
    si++;
    pi = ep;
  }
}

function maxExpand(st: State, si: number, pi: number, ep: number): number {
  let i = 0;
  while (singleMatch(st, si + i, pi, ep)) i++;
  // Longest first, giving back one repetition at a time.
  for (; i >= 0; i--) {
    const res = doMatch(st, si + i, ep + 1);
    if (res !== -1) return res;
  }
  return -1;
}

function minExpand(st: State, si: number, pi: number, ep: number): number {
  for (;;) {
    const res = doMatch(st, si, ep + 1);
    if (res !== -1) return res;
    if (!singleMatch(st, si, pi, ep)) return -1;
    si++;
  }
}

function startCapture(st: State, si: number, pi: number, what: number): number {
  if (st.level >= LUA_MAX_CAPTURES) throw new PatternError('too many captures');
  st.capStart[st.level] = si;
  st.capLength[st.level] = what;
  st.level++;
  const res = doMatch(st, si, pi);
  if (res === -1) st.level--;
  return res;
}

function endCapture(st: State, si: number, pi: number): number {
  let l = st.level - 1;
  while (l >= 0 && st.capLength[l] !== LUA_CAP_UNFINISHED) l--;
  if (l < 0) throw new PatternError('invalid pattern capture');
  st.capLength[l] = si - st.capStart[l]!;
  const res = doMatch(st, si, pi);
  if (res === -1) st.capLength[l] = LUA_CAP_UNFINISHED;
  return res;
}

function matchBalance(st: State, si: number, pi: number): number {
  if (pi >= st.p.length - 1) throw new PatternError("malformed pattern (missing arguments to '%b')");
  const s = st.s;
  const open = st.p[pi]!;
  const close = st.p[pi + 1]!;
  if (si >= s.length || s[si] !== open) return -1;
  let depth = 1;
  const start = si;
  try {
    while (++si < s.length) {
      const c = s[si];
      if (c === close) {
        if (--depth === 0) return si + 1;
      } else if (c === open) {
        depth++;
      }
    }
    return -1;
  } finally {
    step(st, si - start);
  }
}

function matchBackReference(st: State, si: number, digit: number): number {
  const l = digit - 0x31;
  if (l < 0 || l >= st.level || st.capLength[l] === LUA_CAP_UNFINISHED) throw new PatternError(`invalid capture index %${l + 1}`);
  const length = st.capLength[l]!;
  const s = st.s;
  // A position capture has no text, so nothing can repeat it.
  if (length < 0 || s.length - si < length) return -1;
  const from = st.capStart[l]!;
  step(st, length + 1);
  for (let k = 0; k < length; k++) if (s[from + k] !== s[si + k]) return -1;
  return si + length;
}

function capturesOf(st: State): LuaRawCapture[] {
  const out: LuaRawCapture[] = [];
  for (let i = 0; i < st.level; i++) out.push({ start: st.capStart[i]!, length: st.capLength[i]! });
  return out;
}

/** Lets go of the subject and pattern: they may be views of a wasm heap that is about to be freed. */
function release(st: State): void {
  st.s = EMPTY;
  st.p = EMPTY;
}

function failure(st: State, error: unknown): LuaPatternFailure {
  if (error === LIMIT) return { kind: 'limit', steps: st.steps };
  if (error instanceof PatternError) return { kind: 'error', message: error.message, steps: st.steps };
  throw error;
}

function plainSearch(subject: Uint8Array, pattern: Uint8Array, from: number, st: State): number {
  const n = pattern.length;
  if (n === 0) return from;
  const first = pattern[0]!;
  const last = subject.length - n;
  let at = from;
  while (at <= last) {
    const found = subject.indexOf(first, at);
    if (found === -1 || found > last) {
      step(st, subject.length - at);
      return -1;
    }
    step(st, found - at + n);
    let k = 1;
    while (k < n && subject[found + k] === pattern[k]) k++;
    if (k === n) return found;
    at = found + 1;
  }
  step(st, 1);
  return -1;
}

function scanFrom(st: State, from: number, lastMatch: number, anchored: boolean): LuaPatternOutcome {
  const pi = anchored ? 1 : 0;
  for (let si = from; si <= st.s.length; si++) {
    st.level = 0;
    st.depth = MAX_DEPTH;
    const end = doMatch(st, si, pi);
    if (end !== -1 && end !== lastMatch) return { kind: 'match', start: si, end, captures: capturesOf(st), steps: st.steps };
    if (anchored) break;
  }
  return { kind: 'none', steps: st.steps };
}

/** string.find's search from `from` (0-based): plain text, or the pattern with its `^` anchor. */
export function matchFind(subject: Uint8Array, pattern: Uint8Array, from: number, plain: boolean, budget: number): LuaPatternOutcome {
  const st = newState(subject, pattern, budget);
  try {
    if (plain) {
      const at = plainSearch(subject, pattern, from, st);
      return at === -1 ? { kind: 'none', steps: st.steps } : { kind: 'match', start: at, end: at + pattern.length, captures: [], steps: st.steps };
    }
    return scanFrom(st, from, -1, pattern[0] === 0x5e);
  } catch (error) {
    return failure(st, error);
  } finally {
    release(st);
  }
}

/** The scan gmatch and gsub repeat: positions from `from` on, skipping an empty match at `lastMatch`. */
export function matchScan(subject: Uint8Array, pattern: Uint8Array, from: number, lastMatch: number, anchored: boolean, budget: number): LuaPatternOutcome {
  const st = newState(subject, pattern, budget);
  try {
    return scanFrom(st, from, lastMatch, anchored);
  } catch (error) {
    return failure(st, error);
  } finally {
    release(st);
  }
}
