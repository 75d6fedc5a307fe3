/**
 * string.gsub and string.gmatch (Lua 5.4) on top of the metered matcher: the scanning loop with
 * Lua's empty-match rule, the max-n argument, and `%0`-`%9` / `%%` in replacement strings. The
 * loop talks to a host through LuaGsubHost, so the CU can build the result in a Lua buffer and
 * call Lua replacement functions, while luaGsub below builds plain bytes (tests, other hosts).
 */
import { luaCaptureValue, luaCaptureValues, luaPatternScan, luaStartPosition } from './lua-pattern.ts';
import type { LuaCaptureValue, LuaPatternFailure, LuaPatternMatch } from './lua-pattern.ts';

const PERCENT = 0x25;

export type LuaReplacementSink = {
  /** Bytes [start, end) of the subject (`fromSubject`) or of the replacement string. */
  bytes(fromSubject: boolean, start: number, end: number): void;
  /** A position capture, which Lua writes as a decimal integer. */
  position(value: number): void;
};

/** Expands a gsub replacement string for one match; returns Lua's error message, or null. */
export function luaExpandReplacement(replacement: Uint8Array, match: LuaPatternMatch, sink: LuaReplacementSink): string | null {
  let from = 0;
  let at = replacement.indexOf(PERCENT);
  while (at !== -1) {
    if (at > from) sink.bytes(false, from, at);
    const next = at + 1 < replacement.length ? replacement[at + 1]! : 0;
    if (next === PERCENT) {
      sink.bytes(false, at + 1, at + 2);
    } else if (next === 0x30) {
      sink.bytes(true, match.start, match.end);
    } else if (next >= 0x31 && next <= 0x39) {
      const value = luaCaptureValue(match, next - 0x31);
      if (value.kind === 'error') return value.message;
      if (value.kind === 'position') sink.position(value.value);
      else sink.bytes(true, value.start, value.end);
    } else {
      return "invalid use of '%' in replacement string";
    }
    from = at + 2;
    at = replacement.indexOf(PERCENT, from);
  }
  if (from < replacement.length) sink.bytes(false, from, replacement.length);
  return null;
}

export type LuaGsubHost = {
  /** The subject as it is now (a view of a wasm heap can move between calls). */
  subject(): Uint8Array;
  /** Steps the next scan may take. */
  budget(): number;
  /** Steps a scan took. */
  charge(steps: number): void;
  /** Subject bytes [start, end) go to the result unchanged. */
  keep(start: number, end: number): void;
  /** Adds the replacement for a match; returns Lua's error message, or null. */
  replace(match: LuaPatternMatch): string | null;
};

export type LuaGsubOutcome = { kind: 'done'; count: number } | LuaPatternFailure;

/** The gsub loop: at most `maxN` replacements, a leading `^` anchors, an empty match right after the previous match is skipped. */
export function luaGsubLoop(pattern: Uint8Array, maxN: number, host: LuaGsubHost): LuaGsubOutcome {
  const anchored = pattern[0] === 0x5e;
  let src = 0;
  let lastMatch = -1;
  let count = 0;
  while (count < maxN) {
    const outcome = luaPatternScan(host.subject(), pattern, src, { lastMatch, anchored, budget: host.budget() });
    host.charge(outcome.steps);
    if (outcome.kind === 'error' || outcome.kind === 'limit') return outcome;
    if (outcome.kind === 'none') break;
    host.keep(src, outcome.start);
    const error = host.replace(outcome);
    if (error !== null) return { kind: 'error', message: error, steps: outcome.steps };
    count++;
    src = lastMatch = outcome.end;
    if (anchored) break;
  }
  host.keep(src, host.subject().length);
  return { kind: 'done', count };
}

/** A gsub replacement for luaGsub: bytes (with `%` escapes), or a function of the captures / table lookup of the first. */
export type LuaReplacement =
  | { kind: 'string'; bytes: Uint8Array }
  | { kind: 'function'; call(values: LuaCaptureValue[]): LuaReplacementValue }
  | { kind: 'table'; get(value: LuaCaptureValue): LuaReplacementValue };
/** null (Lua nil or false) keeps the match; `{ invalid }` names the Lua type of a value that is neither. */
export type LuaReplacementValue = Uint8Array | null | { invalid: string };

export type LuaGsubResult = { kind: 'done'; bytes: Uint8Array; count: number; steps: number } | LuaPatternFailure;

/** string.gsub on bytes with a step budget. */
export function luaGsub(subject: Uint8Array, pattern: Uint8Array, replacement: LuaReplacement, maxN: number, budget: number): LuaGsubResult {
  const parts: Uint8Array[] = [];
  let steps = 0;
  const sink: LuaReplacementSink = {
    bytes: (fromSubject, start, end) => parts.push((fromSubject ? subject : (replacement as { bytes: Uint8Array }).bytes).subarray(start, end)),
    position: (value) => parts.push(new TextEncoder().encode(String(value))),
  };
  const add = (value: LuaReplacementValue, match: LuaPatternMatch): string | null => {
    if (value === null) parts.push(subject.subarray(match.start, match.end));
    else if (value instanceof Uint8Array) parts.push(value);
    else return `invalid replacement value (a ${value.invalid})`;
    return null;
  };
  const outcome = luaGsubLoop(pattern, maxN, {
    subject: () => subject,
    budget: () => budget - steps,
    charge: (n) => (steps += n),
    keep: (start, end) => parts.push(subject.subarray(start, end)),
    replace(match) {
      if (replacement.kind === 'string') return luaExpandReplacement(replacement.bytes, match, sink);
      if (replacement.kind === 'table') {
        const first = luaCaptureValue(match, 0);
        return first.kind === 'error' ? first.message : add(replacement.get(first), match);
      }
      const values = luaCaptureValues(match, true);
      return Array.isArray(values) ? add(replacement.call(values), match) : values.message;
    },
  });
  if (outcome.kind !== 'done') return { ...outcome, steps };
  return { kind: 'done', bytes: concatBytes(parts), count: outcome.count, steps };
}

export type LuaGmatchResult = { kind: 'done'; matches: LuaCaptureValue[][]; steps: number } | LuaPatternFailure;

/** Every iteration of string.gmatch(subject, pattern, init), with a step budget over the whole loop. */
export function luaGmatch(subject: Uint8Array, pattern: Uint8Array, init: number, budget: number): LuaGmatchResult {
  let src = Math.min(luaStartPosition(init, subject.length) - 1, subject.length + 1);
  let lastMatch = -1;
  let steps = 0;
  const matches: LuaCaptureValue[][] = [];
  for (;;) {
    const outcome = luaPatternScan(subject, pattern, src, { lastMatch, anchored: false, budget: budget - steps });
    steps += outcome.steps;
    if (outcome.kind === 'error' || outcome.kind === 'limit') return { ...outcome, steps };
    if (outcome.kind === 'none') return { kind: 'done', matches, steps };
    const values = luaCaptureValues(outcome, true);
    if (!Array.isArray(values)) return { kind: 'error', message: values.message, steps };
    matches.push(values);
    src = lastMatch = outcome.end;
  }
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}
