import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { luaFindCharge, luaPatternBound, luaPatternCost } from './lua-pattern-cost.ts';
import type { LuaPatternCost } from './lua-pattern-cost.ts';
import { luaGmatch, luaGsub } from './lua-pattern-gsub.ts';
import type { LuaReplacement } from './lua-pattern-gsub.ts';
import { luaCaptureValues, luaPatternFind } from './lua-pattern.ts';
import type { LuaCaptureValue } from './lua-pattern.ts';
import { mulberry32 } from '../seeded-random.ts';

/**
 * Expected values come from Lua 5.4's own string library (wasmoon's build); the same cases and
 * thousands of random ones run against it directly in src/ao/vm/lua-pattern-cap.test.ts, which
 * may import wasmoon where protocol/ may not.
 */

const BIG = 50_000_000;
const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('latin1');

function show(values: LuaCaptureValue[], subject: Uint8Array): string {
  return values.map((v) => (v.kind === 'position' ? String(v.value) : JSON.stringify(text(subject.subarray(v.start, v.end))))).join(' ');
}

type Row = [fn: 'find' | 'match' | 'gsub' | 'gmatch', subject: string, pattern: string, ...rest: (string | number | boolean)[]];

/** [function, subject, pattern, ...arguments, what Lua returns] with strings as JSON and `error: ` for errors. */
const GOLDEN: Row[] = [
  ["find", "hello world", "o", "5 5"],
  ["find", "hello world", "o", 6, "8 8"],
  ["find", "hello world", "o", -3, "nil"],
  ["find", "hello world", "l+", "3 4"],
  ["find", "hello", "", 6, "6 5"],
  ["find", "hello", "", 7, "nil"],
  ["find", "a.b", ".", 1, true, "2 2"],
  ["find", "a+b", "a%+b", "1 3"],
  ["find", "abc", "a)", "nil"],
  ["match", "abc", "a)", "error: invalid pattern capture"],
  ["find", "hello", "()ll()", "3 4 3 5"],
  ["match", "  trim me  ", "^%s*(.-)%s*$", "\"trim me\""],
  ["match", "key = value", "(%w+)%s*=%s*(%w+)", "\"key\" \"value\""],
  ["match", "2024-01-31", "(%d+)-(%d+)-(%d+)", "\"2024\" \"01\" \"31\""],
  ["match", "x = \"a\\\"b\"", "\"(.-)\"", "\"a\\\\\""],
  ["find", "f(a(b)c)d", "%b()", "2 8"],
  ["match", "THE (quick) fox", "%f[%a]%a+", 5, "\"quick\""],
  ["find", "abcabc", "(abc)%1", "1 6 \"abc\""],
  ["find", "abc", "^b", "nil"],
  ["find", "abc", "c$", "3 3"],
  ["find", "a$c", "a$c", "1 3"],
  ["find", "^ab", "^^", "1 1"],
  ["match", "a-z", "[a-]+", "\"a-\""],
  ["match", "a]b", "[]]", "\"]\""],
  ["match", "a]b", "[^]]+", "\"a\""],
  ["match", "tab\there", "%c", "\"\\t\""],
  ["match", "x1_y2", "[%w_]+", "\"x1_y2\""],
  ["match", "ABCdef", "%L+", "\"ABC\""],
  ["match", "0x1F", "%x+$", "\"1F\""],
  ["find", "\x00ab", "%z", "1 1"],
  ["match", "caf\xe9!", "%W+", "\"\xe9!\""],
  ["find", "aaa", "a-b", "nil"],
  ["find", "aaab", "a-b", "1 4"],
  ["match", "aaa", "^(a*)(a?)$", "\"aaa\" \"\""],
  ["match", "hello", "(h)(e)(l)(l)(o)", "\"h\" \"e\" \"l\" \"l\" \"o\""],
  ["find", "x", "%", "error: malformed pattern (ends with '%')"],
  ["find", "x", "[a", "error: malformed pattern (missing ']')"],
  ["find", "x", "[%", "error: malformed pattern (missing ']')"],
  ["find", "x", "%b", "error: malformed pattern (missing arguments to '%b')"],
  ["find", "x", "%f", "error: missing '[' after '%f' in pattern"],
  ["find", "x", "(()", "error: unfinished capture"],
  ["find", "x", "%1", "error: invalid capture index %1"],
  ["find", "x", "(x%1)", "error: invalid capture index %1"],
  ["match", "x", "x)", "error: invalid pattern capture"],
  ["find", "x", "%0", "error: invalid capture index %0"],
  ["find", "aaa", "(".repeat(33), "error: too many captures"],
  ["find", "a".repeat(300), 'a?'.repeat(300), "error: pattern too complex"],
  ["gsub", "hello world", "o", "[%0]", "\"hell[o] w[o]rld\" 2"],
  ["gsub", "hello world", "(o)", "<%1>", 1, "\"hell<o> world\" 1"],
  ["gsub", "hello world", "%w+", "%0 %0", "\"hello hello world world\" 2"],
  ["gsub", "abc", "", "-", "\"-a-b-c-\" 4"],
  ["gsub", "abc", "b*", "-", "\"-a-c-\" 3"],
  ["gsub", "hello world", "()(o)", "%1", "\"hell5 w8rld\" 2"],
  ["gsub", "abc", "%w", "%%", "\"%%%\" 3"],
  ["gsub", "abc", "b", "%2", "error: invalid capture index %2"],
  ["gsub", "abc", "b", "%1", "\"abc\" 1"],
  ["gsub", "abc", "b", "%x", "error: invalid use of '%' in replacement string"],
  ["gsub", "abc", "b", "x%", "error: invalid use of '%' in replacement string"],
  ["gsub", "abc", "(b", "x", "\"axc\" 1"],
  ["gsub", "abc", "(b", "%1", "error: unfinished capture"],
  ["gsub", "^a^a", "^^a", ".", "\".^a\" 1"],
  ["gsub", "  x  ", "^%s+", "", "\"x  \" 1"],
  ["gsub", "abc", "%w", "%0", 0, "\"abc\" 0"],
  ["gmatch", "a=1, b=2", "(%w+)=(%w+)", "\"a\" \"1\" | \"b\" \"2\""],
  ["gmatch", "abc", "", "\"\" | \"\" | \"\" | \"\""],
  ["gmatch", "a,b,,c", "[^,]*", "\"a\" | \"b\" | \"\" | \"c\""],
  ["gmatch", "hello world", "%a+", 3, "\"llo\" | \"world\""],
  ["gmatch", "^a^b", "^%a", "\"^a\" | \"^b\""],
  ["gmatch", "one two", "()%a+()", "1 4 | 5 8"],
  ["gmatch", "abc", "(", "error: unfinished capture"],
  ["gmatch", "abc", "b*", "\"\" | \"b\" | \"\""],
];

function run(row: Row): string {
  const [fn, subjectText, patternText, ...rest] = row;
  const args = rest.slice(0, -1);
  const s = latin1(subjectText);
  const p = latin1(patternText);
  if (fn === 'gsub') {
    const result = luaGsub(s, p, { kind: 'string', bytes: latin1(args[0] as string) }, (args[1] as number | undefined) ?? s.length + 1, BIG);
    if (result.kind === 'error') return `error: ${result.message}`;
    return result.kind === 'done' ? `${JSON.stringify(text(result.bytes))} ${result.count}` : 'limit';
  }
  if (fn === 'gmatch') {
    const result = luaGmatch(s, p, (args[0] as number | undefined) ?? 1, BIG);
    if (result.kind === 'error') return `error: ${result.message}`;
    return result.kind === 'done' ? result.matches.map((m) => show(m, s)).join(' | ') : 'limit';
  }
  const outcome = luaPatternFind(s, p, (args[0] as number | undefined) ?? 1, { plain: args[1] === true, find: fn === 'find', budget: BIG });
  if (outcome.kind === 'error') return `error: ${outcome.message}`;
  if (outcome.kind === 'none') return 'nil';
  if (outcome.kind === 'limit') return 'limit';
  const values = luaCaptureValues(outcome, fn === 'match');
  if (!Array.isArray(values)) return `error: ${values.message}`;
  return [...(fn === 'find' ? [String(outcome.start + 1), String(outcome.end)] : []), show(values, s)].filter((x) => x !== '').join(' ');
}

describe('Lua 5.4 patterns', () => {
  it('find, match, gsub and gmatch return what Lua returns, errors included', () => {
    for (const row of GOLDEN) assert.equal(run(row), row.at(-1), JSON.stringify(row.slice(0, -1)));
  });

  it('gsub calls a function with the captures and a table with the first, keeping the match on nil or false', () => {
    const s = latin1('a=1, b=2, c=3');
    const p = latin1('(%w)=(%w)');
    const call: LuaReplacement = { kind: 'function', call: (v) => (show(v, s) === '"b" "2"' ? null : latin1(`${show(v, s)}`)) };
    const done = luaGsub(s, p, call, Infinity, BIG);
    assert.equal(done.kind === 'done' && text(done.bytes), '"a" "1", b=2, "c" "3"');
    const table: LuaReplacement = { kind: 'table', get: (v) => (show([v], s) === '"a"' ? latin1('A') : show([v], s) === '"c"' ? { invalid: 'table' } : null) };
    const failed = luaGsub(s, p, table, Infinity, BIG);
    assert.deepEqual(failed.kind === 'error' && failed.message, 'invalid replacement value (a table)');
    assert.equal(luaGsub(s, p, table, 2, BIG).kind, 'done');
  });

  it('stops at the first error while a function replacement is never called for it', () => {
    let calls = 0;
    const result = luaGsub(latin1('xx'), latin1('(x'), { kind: 'function', call: () => (calls++, null) }, Infinity, BIG);
    assert.deepEqual([result.kind === 'error' && result.message, calls], ['unfinished capture', 0]);
  });
});

describe('the step budget', () => {
  it('stops an exponential match with a limit outcome', () => {
    const started = performance.now();
    const outcome = luaPatternFind(latin1('a'.repeat(40)), latin1('a*'.repeat(30) + 'b'), 1, { plain: false, find: true, budget: 1_000_000 });
    assert.equal(outcome.kind, 'limit');
    assert.ok(outcome.steps > 1_000_000 && outcome.steps < 1_001_000);
    assert.ok(performance.now() - started < 1000);
  });

  it('stops a quadratic search, a gsub and a gmatch', () => {
    const s = latin1('x'.repeat(100_000));
    assert.equal(luaPatternFind(s, latin1('.-y'), 1, { plain: false, find: true, budget: 1_000_000 }).kind, 'limit');
    assert.equal(luaGsub(s, latin1('.-y'), { kind: 'string', bytes: latin1('') }, Infinity, 1_000_000).kind, 'limit');
    assert.equal(luaGmatch(s, latin1('x*y'), 1, 1_000_000).kind, 'limit');
  });

  it('counts a plain find by the bytes it passes', () => {
    const s = latin1(`${'x'.repeat(999)}"`);
    const outcome = luaPatternFind(s, latin1('"'), 1, { plain: true, find: true, budget: BIG });
    assert.equal(outcome.kind, 'match');
    assert.ok(outcome.steps <= 1001, `steps ${outcome.steps}`);
  });
});

describe('the cost bound', () => {
  const cost = (pattern: string, n: number, honourAnchor = true): LuaPatternCost => {
    const out: LuaPatternCost = { perAttempt: 0, trailing: 0, anchored: false, scaled: false };
    const p = latin1(pattern);
    luaPatternCost(p, 0, p.length, n, honourAnchor, out);
    return out;
  };

  it('keeps JSON-style and handler patterns linear', () => {
    const n = 100_000;
    assert.ok(luaPatternBound(cost('^-?%d+%.?%d*[eE]?[-+]?%d*', n), n, false) < 30 * n);
    assert.ok(luaPatternBound(cost('[%c"\\]', n), n, false) < 30 * n);
    assert.ok(luaPatternBound(cost('^[ \t\r\n]*', n), n, false) < 30 * n);
    assert.ok(luaPatternBound(cost('%s+', n), n, true) < 30 * n);
    assert.ok(luaPatternBound(cost('[^,]+', n), n, true) < 30 * n);
  });

  it('grows with backtracking', () => {
    assert.equal(luaPatternBound(cost('a*'.repeat(30) + 'b', 40), 40, false) > 1e40, true);
    assert.ok(luaPatternBound(cost('.-y', 1e6), 1e6, false) >= 1e12);
    assert.ok(luaPatternBound(cost('(a?)'.repeat(40) + 'b', 40), 40, false) >= 2 ** 40);
  });

  it('bounds the steps the matcher takes', () => {
    const random = mulberry32(7);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const atoms = ['a', 'b', '.', '%a', '[ab]', '[^b]', '%b()', '%f[a]', '()', '(a)', '(a*)%1', '$'];
    for (let round = 0; round < 2000; round++) {
      const subject = latin1(Array.from({ length: Math.floor(random() * 12) }, () => pick(['a', 'b', '(', ')'])).join(''));
      let pattern = random() < 0.3 ? '^' : '';
      for (let k = 0; k < 1 + Math.floor(random() * 5); k++) pattern += pick(atoms) + pick(['', '*', '+', '-', '?']);
      const p = latin1(pattern);
      const n = subject.length;
      const c = cost(pattern, n);
      const found = luaPatternFind(subject, p, 1, { plain: false, find: true, budget: BIG });
      if (found.kind === 'match') assert.ok(luaFindCharge(c, n, 0, found.start, found.end) >= found.steps, `find ${pattern} on ${Buffer.from(subject)}`);
      if (found.kind === 'none') assert.ok(luaFindCharge(c, n, 0, -1, -1) >= found.steps, `find ${pattern} on ${Buffer.from(subject)}`);
      const all = luaGsub(subject, p, { kind: 'string', bytes: latin1('') }, Infinity, BIG);
      if (all.kind === 'done') assert.ok(luaPatternBound(c, n, true) >= all.steps, `gsub ${pattern} on ${Buffer.from(subject)}`);
    }
  });
});

