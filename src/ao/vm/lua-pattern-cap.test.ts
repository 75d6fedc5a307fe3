import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LuaFactory } from 'wasmoon';
import type { LuaEngine } from 'wasmoon';
import { restoreLuaProcess } from './lua-process.ts';
import { luaRuntimeSource } from './lua-runtime-source.ts';
import { DEFAULT_OPTIONS, bootProcess, outputData } from './lua-test-kit.ts';
import { createLuaVm } from './lua-vm.ts';
import type { LuaVm } from './lua-vm.ts';
import { mulberry32 } from '../../protocol/seeded-random.ts';

/**
 * The guarded string functions against wasmoon's own: the same Lua harness runs in a plain
 * wasmoon state and in LuaVms whose string.find/match/gmatch/gsub are ours, one sending every
 * call through the metered matcher (nativePatternLimit 0) and one with the production limit.
 * Results, value types and error messages (with their positions) must be the same text.
 */

const HARNESS = `
local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local function unhex(h) return (h:gsub('..', function(x) return string.char(tonumber(x, 16)) end)) end
local function ser(ok, ...)
  if not ok then return 'false e:' .. tostring((...)) end
  local parts = { 'true' }
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if v == nil then parts[#parts + 1] = 'nil'
    elseif math.type(v) == 'integer' then parts[#parts + 1] = 'i:' .. v
    elseif type(v) == 'string' then parts[#parts + 1] = 's:' .. hex(v)
    else parts[#parts + 1] = type(v) .. ':' .. tostring(v) end
  end
  return table.concat(parts, ' ')
end
local replFunction = function(...)
  local a = ...
  if a == 'b' or a == 2 then return false end
  if a == 'c' then return 7 end
  if a == 'd' then return {} end
  local t = { ... }
  for i = 1, #t do t[i] = tostring(t[i]) end
  return '<' .. table.concat(t, ',') .. '>'
end
local replTable = setmetatable({ a = 'A', b = false, c = 5, [1] = 'pos1', [3] = {} }, { __index = function(_, k) if k == 'e' then return 'E!' end end })
local method = load('local fn, s, p, a, b = ... return s[fn](s, p, a, b)', '=method')
local function gmatchAll(iter)
  local out = {}
  for _ = 1, 10000 do
    local r = table.pack(pcall(iter))
    if not r[1] then return false, r[2] end
    if r.n == 1 then return true, table.concat(out, '|') end
    out[#out + 1] = ser(table.unpack(r, 1, r.n))
  end
  return false, 'runaway'
end
local function arg(x)
  local kind, v = x:sub(1, 1), x:sub(3)
  if kind == 'n' then return tonumber(v) elseif kind == 's' then return unhex(v) elseif kind == 'b' then return v == 'true' end
  if x == 'function' then return replFunction elseif x == 'table' then return replTable end
end
function dispatch(line)
  if line:sub(1, 5) == 'code ' then return ser(pcall(load(line:sub(6), '=case'))) end
  local fn, sh, ph, a, b, via = line:match('^(%w+) (%x*) (%x*) (%S+) (%S+) (%w+)$')
  local s, p = unhex(sh), unhex(ph)
  if fn == 'gmatch' then
    local ok, iter
    if via == 'method' then ok, iter = pcall(method, 'gmatch', s, p, arg(a)) else ok, iter = pcall(string.gmatch, s, p, arg(a)) end
    if not ok then return 'false e:' .. tostring(iter) end
    return ser(gmatchAll(iter))
  end
  if via == 'method' then return ser(pcall(method, fn, s, p, arg(a), arg(b))) end
  return ser(pcall(string[fn], s, p, arg(a), arg(b)))
end
`;

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const hex = (text: string) => Buffer.from(latin1(text)).toString('hex');
type Arg = string | number | boolean | undefined;
const enc = (value: Arg) => (value === undefined ? 'nil' : typeof value === 'string' ? `s:${hex(value)}` : typeof value === 'number' ? `n:${value}` : `b:${value}`);

let native: LuaEngine;
const guarded: { vm: LuaVm; call: number }[] = [];

before(async () => {
  native = await new LuaFactory().createEngine();
  native.doStringSync(HARNESS);
  for (const nativePatternLimit of [0, undefined]) {
    const vm = await createLuaVm(nativePatternLimit === undefined ? {} : { nativePatternLimit });
    guarded.push({ vm, call: vm.runChunk(`${HARNESS}\nreturn dispatch`, 'harness', true) });
  }
});
after(() => guarded.forEach(({ vm }) => vm.close()));

/** The line dispatch() reads: function, subject and pattern in hex, two arguments, and how to call. */
function line(fn: string, s: string, p: string, a: Arg, b: Arg, via: 'call' | 'method'): string {
  const third = a === 'function' || a === 'table' ? a : enc(a);
  return `${fn} ${hex(s)} ${hex(p)} ${third} ${enc(b)} ${via}`;
}

function runNative(text: string): string {
  return native.doStringSync(`return dispatch(${JSON.stringify(text)})`) as string;
}

function runGuarded(which: number, text: string, limit = 1e12): string {
  const { vm, call } = guarded[which]!;
  vm.arm(limit, 0);
  const result = vm.callRef(call, [text]);
  vm.disarm();
  return result.ok ? result.value : `raised ${result.error}`;
}

type Case = [subject: string, pattern: string, init?: number, plain?: boolean];

const CASES: Case[] = [
  ['hello world', 'o'], ['hello world', 'o', 6], ['hello world', 'o', -3], ['hello world', 'o', -100], ['hello world', 'o', 0], ['hello', 'l', 2.0],
  ['hello world', 'l+'], ['hello world', 'l*'], ['hello world', 'l-o'], ['hello world', 'x?h'], ['hello', ''], ['hello', '', 6], ['hello', '', 7],
  ['hello', 'xyz', 1, true], ['a.b', '.', 1, true], ['a.b', '%.'], ['a+b', 'a+b', 1, true], ['[x]', '[', 1, true], ['abc', 'a)'], ['abc', 'a(', 1, true],
  ['  trim me  ', '^%s*(.-)%s*$'], ['key = value', '(%w+)%s*=%s*(%w+)'], ['2024-01-31', '(%d+)-(%d+)-(%d+)'], ['hello', '()ll()'], ['aaa', '(a*(.)%w(%s*))'],
  ['x = "a\\"b"', '"(.-)"'], ['f(a(b)c)d', '%b()'], ['((a)', '%b()'], ['THE (quick) fox', '%f[%a]%a+'], ['THE (quick) fox', '%f[%A]'], ['abcabc', '(abc)%1'],
  ['abab', '(a)(b)%2'], ['abc', '^abc$'], ['abc', '^b'], ['abc', 'c$'], ['a$c', 'a$c'], ['^ab', '^^'], ['abc', '[a-b]+'], ['a-z', '[a-]+'], ['a]b', '[]]'],
  ['a]b', '[^]]+'], ['a%b', '[%%]'], ['tab\there', '%c'], ['x1_y2', '[%w_]+'], ['ABCdef', '%L+'], ['0x1F', '%x+'], ['a,b;c', '%p'], ['\x00\x01abc', '%z'],
  ['\x00ab', '\x00a'], ['\xff\xfe', '[\x80-\xff]+'], ['\xe9t\xe9', '%a+'], ['x', '%'], ['x', '[a'], ['x', '[%'], ['x', '%b'], ['x', '%ba'], ['x', '%f'],
  ['x', '%fa'], ['x', '(()'], ['x', '%1'], ['x', '(x)%2'], ['x', '(x%1)'], ['x', 'x)'], ['x', '%0'], ['aaa', '('.repeat(33)], ['a'.repeat(300), 'a?'.repeat(300)],
  ['abc', 'a*'.repeat(250)], ['a'.repeat(20), '(' + 'a?'.repeat(198) + ')'], ['one two  three', '()%s+()'], ['[[x]]', '%[(%b[])%]'], ['abcde', 'c', '2'],
  ['abcde', 'c', 1.5], ['abcde', 'c', 'x'], ['abcde', 'c', 2 ** 63], ['a,b,,c', '[^,]*'], ['abc', 'e'], ['abcdef', '%f[%w]%w+', 3],
] as unknown as Case[];

const REPLACEMENTS: Arg[] = ['%0-%1', '<%2>', '%%', '%', '%x', 'x', '', 12, 'function', 'table', true];

function compareAll(fn: string, s: string, p: string, a: Arg, b: Arg, via: 'call' | 'method'): void {
  compareLine(line(fn, s, p, a, b, via));
}

function compareLine(text: string): void {
  const expected = runNative(text);
  for (let which = 0; which < guarded.length; which++) assert.equal(runGuarded(which, text), expected, `${['metered', 'production'][which]}: ${text}`);
}

describe('guarded string functions against the C ones', () => {
  it('find and match, called and as methods', () => {
    for (const [s, p, init, plain] of CASES) {
      for (const fn of ['find', 'match']) for (const via of ['call', 'method'] as const) compareAll(fn, s, p, init, plain, via);
    }
    const calls = [
      `string.find({}, 'x')`, `string.find('x', {})`, `string.find(12345, 3)`, `string.match(12.5, '%.(%d)')`, `('x'):find({})`, `('x'):find('(')`,
      `string.gmatch(nil, 'x')`, `string.gsub('x', 'x')`, `string.gsub('x', 'x', 'y', {})`, `('abc'):gsub('%w', '%2')`, `('x'):match()`,
      `string.rep('x', 20):gsub('x', { x = {} })`, `string.find(string.rep('x', 1000), '(x)%1%1', 3)`, `(function() for a in ('ab'):gmatch('(') do end end)()`,
    ];
    for (const call of calls) compareLine(`code return ${call}`);
  });

  it('gmatch and gsub with string, number, function and table replacements', () => {
    for (const [s, p, init] of CASES) {
      for (const via of ['call', 'method'] as const) compareAll('gmatch', s, p, init, undefined, via);
      for (const repl of REPLACEMENTS) for (const n of [undefined, 0, 1, 2, 'x']) compareAll('gsub', s, p, repl, n, 'call');
      compareAll('gsub', s, p, 'table', undefined, 'method');
    }
  });

  it('agrees on seeded random cases', () => {
    const random = mulberry32(0x5eed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const atoms = ['a', 'b', 'c', '.', '%a', '%d', '%s', '%w', '%p', '%A', '[ab]', '[^a]', '[a-c1]', '[%d_]', '[]a]', '%b()', '%f[%w]', '%.', '$', '^', ' '];
    let compared = 0;
    for (let round = 0; round < 1500; round++) {
      const s = Array.from({ length: Math.floor(random() * 14) }, () => pick(['a', 'b', 'c', '1', ' ', '(', ')', '_', '\x00', '\xe9'])).join('');
      let p = random() < 0.2 ? '^' : '';
      let open = 0;
      for (let k = 1 + Math.floor(random() * 6); k > 0; k--) {
        const roll = random();
        if (roll < 0.12) (p += '('), open++;
        else if (roll < 0.2 && open > 0) (p += ')'), open--;
        else if (roll < 0.24) p += '()';
        else if (roll < 0.28) p += `%${1 + Math.floor(random() * 2)}`;
        else p += pick(atoms) + pick(['', '', '', '*', '+', '-', '?']);
      }
      if (random() < 0.8) p += ')'.repeat(open);
      const fn = pick(['find', 'match', 'gmatch', 'gsub']);
      const a = fn === 'gsub' ? pick(['%1', '%0%0', '', 'function', 'table']) : random() < 0.3 ? Math.floor(random() * 20) - 10 : undefined;
      const text = line(fn, s, p, a, undefined, 'call');
      const metered = runGuarded(0, text, 300_000);
      if (metered.includes('instruction limit exceeded')) continue; // too costly to run in C without a meter
      compared++;
      const expected = runNative(text);
      assert.equal(metered, expected, text);
      assert.equal(runGuarded(1, text), expected, text);
    }
    assert.ok(compared > 1400, `compared ${compared}`);
  });
});

const PATHOLOGICAL = [
  `string.find(string.rep('a', 40), string.rep('a*', 30) .. 'b')`,
  `string.find(string.rep('x', 1e6), '.-y')`,
  `(string.rep('x', 1e6)):match('(.-)y')`,
  `string.gsub(string.rep('x', 1e6), '.-y', '')`,
  `(function() for w in string.gmatch(string.rep('x', 1e6), 'x*y') do end end)()`,
  `string.find(string.rep('a', 1e6), string.rep('a', 1e5) .. 'b', 1, true)`,
];

describe('pattern calls past the instruction limit', () => {
  it('fail the message quickly with the instruction-limit error, and the process carries on', async () => {
    const p = await bootProcess();
    for (const expression of PATHOLOGICAL) {
      const started = performance.now();
      const result = p.eval(`return ${expression}`);
      const elapsed = performance.now() - started;
      assert.match(String(result.Error), /instruction limit exceeded/, expression);
      assert.ok(elapsed < 1000, `${expression} took ${elapsed.toFixed(0)} ms`);
      assert.ok((result.GasUsed ?? 0) > DEFAULT_OPTIONS.instructionLimit);
      assert.equal(p.value('1 + 1'), '2');
    }
    // A pcall cannot swallow the trip.
    const caught = p.eval(`local ok = pcall(string.find, string.rep('a', 40), string.rep('a*', 30) .. 'b') Caught = 'no'`);
    assert.match(String(caught.Error), /instruction limit exceeded/);
    assert.equal(p.value('tostring(Caught)'), 'nil');
  });

  it('keep ordinary costly-looking calls working, metered', async () => {
    const p = await bootProcess();
    const big = `string.rep('word, ', 20000)`;
    assert.equal(p.value(`select(2, (${big}):gsub('%s*(%w-),', '%1;'))`), '20000');
    assert.equal(p.value(`(function() local n = 0 for w in (${big}):gmatch('(%w-),') do n = n + 1 end return n end)()`), '20000');
    assert.equal(p.value(`(${big} .. 'end'):match('^.-(e%a+)$')`), 'end');
  });

  it('are deterministic: two processes fed the same messages end in the same state', async () => {
    const a = await bootProcess();
    const b = await bootProcess();
    const script = [`X = select(2, string.rep('ab', 3000):gsub('(a-)b', '%1'))`, `Y = ${PATHOLOGICAL[0]}`, `Z = #string.rep('x', 100):match('^(.-)%s*$')`];
    for (const process of [a, b]) for (const code of script) process.eval(code);
    assert.equal(a.process.stateHash(), b.process.stateHash());
    assert.equal(a.value('X'), '3000');
    assert.equal(a.value('tostring(Y)'), 'nil');
  });

  it('survive a snapshot: a metered gmatch iterator carries on after a restore', async () => {
    const p = await bootProcess();
    p.eval(`Iter = string.gmatch(string.rep('x,', 5999) .. 'last,', '([^,]-),') Iter()`);
    const restored = await restoreLuaProcess(luaRuntimeSource(), p.process.snapshot(), DEFAULT_OPTIONS);
    const rest = 'local n, last = 0 for w in Iter do n = n + 1 last = w end return n .. last';
    const drain = (process: typeof restored) => outputData(process.evaluate(p.message({ tags: { Action: 'Eval' }, data: rest }), p.env));
    assert.equal(drain(restored), '5999last');
    assert.equal(drain(p.process), '5999last');
    const stuck = restored.evaluate(p.message({ tags: { Action: 'Eval' }, data: `return ${PATHOLOGICAL[1]}` }), p.env);
    assert.match(String(stuck.Error), /instruction limit exceeded/);
    restored.close();
  });
});

