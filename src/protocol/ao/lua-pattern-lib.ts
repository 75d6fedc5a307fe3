/**
 * string.find, match, gmatch and gsub for a Lua 5.4 state, as C functions written against an
 * injected slice of the Lua C API (the CU binds it to a wasm instance). Every call is metered, and
 * what a call costs is part of the result: a message runs past its instruction limit at the same
 * call on every CU. A call whose cost bound (lua-pattern-cost.ts) is small runs the state's own C
 * function, in the caller's frame so that even its errors read the same, and is charged its bound;
 * a costlier one runs the metered matcher and is charged its steps. Arguments the C function would
 * reject go to it unchanged, so that it raises its own error.
 */
import { luaFindCharge, luaPatternBound, luaPatternCost, luaPatternSpecial } from './lua-pattern-cost.ts';
import type { LuaPatternCost } from './lua-pattern-cost.ts';
import { luaExpandReplacement, luaGsubLoop } from './lua-pattern-gsub.ts';
import type { LuaReplacementSink } from './lua-pattern-gsub.ts';
import { luaCaptureValue, luaCaptureValues, luaPatternFind, luaPatternScan, luaStartPosition } from './lua-pattern.ts';
import type { LuaCaptureValue, LuaPatternFailure } from './lua-pattern.ts';

/** A lua_CFunction: takes the state, returns how many results it pushed. */
export type LuaCFunction = (L: number) => number;

/** The Lua C API calls the string functions make (pointers are offsets in the state's heap). */
export type LuaCApi = {
  /** The heap as it is now: a view goes stale when the heap grows. */
  heap(): Uint8Array;
  /** The unsigned 32-bit word at `pointer`. */
  word(pointer: number): number;
  /** luaL_error: raises `message` after the position of the calling Lua code. */
  error(L: number, message: string): never;
  /** luaL_checkstack. */
  checkstack(L: number, n: number, message: string): void;
  malloc(size: number): number;
  free(pointer: number): void;
  lua_type(L: number, index: number): number;
  lua_tolstring(L: number, index: number, lengthPointer: number): number;
  lua_tonumberx(L: number, index: number, isnumPointer: number): number;
  lua_toboolean(L: number, index: number): number;
  lua_settop(L: number, index: number): void;
  lua_pushvalue(L: number, index: number): void;
  lua_pushnil(L: number): void;
  lua_pushinteger(L: number, n: bigint): void;
  lua_pushlstring(L: number, pointer: number, length: number): number;
  lua_pushcclosure(L: number, fn: number, n: number): void;
  lua_copy(L: number, from: number, to: number): void;
  lua_callk(L: number, nargs: number, nresults: number, ctx: number, k: number): void;
  lua_gettable(L: number, index: number): number;
  luaL_buffinit(L: number, buffer: number): void;
  luaL_addlstring(buffer: number, pointer: number, length: number): void;
  luaL_addvalue(buffer: number): void;
  luaL_pushresult(buffer: number): void;
};

export type LuaPatternMeter = {
  /** Matcher steps the running message may still take. */
  budget(): number;
  /** Adds steps to the message's count; raises the instruction-limit error past the limit. */
  charge(L: number, steps: number): void;
  /** Raises the instruction-limit error (returns when no message is running). */
  exceeded(L: number): void;
};

export type LuaStringFunctionsOptions = {
  /** Cost bound up to which a call runs the C function. */
  nativeLimit: number;
  /** 8 bytes of heap the functions may use for out-parameters. */
  scratch: number;
  /** Where `iterate` sits in the function table (metered gmatch returns closures of it). */
  iterator(): number;
};

export type LuaStringFunctions = { find: LuaCFunction; match: LuaCFunction; gmatch: LuaCFunction; gsub: LuaCFunction; iterate: LuaCFunction };

const LUA_TNONE = -1;
const LUA_TNIL = 0;
const LUA_TNUMBER = 3;
const LUA_TSTRING = 4;
const LUA_TTABLE = 5;
const LUA_TFUNCTION = 6;
/** LUA_REGISTRYINDEX of Lua 5.4 (-LUAI_MAXSTACK - 1000); upvalue i of a C closure is below it. */
export const LUA_REGISTRY_INDEX = -1_001_000;
const upvalue = (i: number) => LUA_REGISTRY_INDEX - i;
/** Bigger than a luaL_Buffer (16 + LUAL_BUFFERSIZE = 528 bytes on wasm32). */
const LUA_BUFFER_BYTES = 4096;
const COST_CACHE_SIZE = 256;
const TYPE_NAMES = ['no value', 'nil', 'boolean', 'userdata', 'number', 'string', 'table', 'function', 'userdata', 'thread'];

/** The four functions, given the state's own C functions for the calls that are cheap enough to run there. */
export function createLuaStringFunctions(
  api: LuaCApi,
  natives: { find: LuaCFunction; match: LuaCFunction; gmatch: LuaCFunction; gsub: LuaCFunction },
  meter: LuaPatternMeter,
  options: LuaStringFunctionsOptions,
): LuaStringFunctions {
  const { nativeLimit, scratch } = options;
  const cost: LuaPatternCost = { perAttempt: 0, trailing: 0, anchored: false, scaled: false };
  const costs = new Map<number, { bytes: Uint8Array; cost: LuaPatternCost }>();
  let length = 0;
  const u8 = () => api.heap();
  const raise = (state: number, message: string): never => api.error(state, message);

  /** A string (or number) argument: its pointer, and its length in `length`; 0 for other types. */
  function stringAt(state: number, index: number): number {
    const pointer = api.lua_tolstring(state, index, scratch);
    length = pointer === 0 ? 0 : api.word(scratch);
    return pointer;
  }

  /** An optional integer argument read as luaL_optinteger reads it, or null when that raises. */
  function optInteger(state: number, index: number, fallback: number): number | null {
    const value = api.lua_tonumberx(state, index, scratch + 4);
    if (api.word(scratch + 4) !== 0) return Number.isInteger(value) && Math.abs(value) < 2 ** 63 ? value : null;
    return api.lua_type(state, index) <= LUA_TNIL ? fallback : null;
  }

  // A cost that does not grow with the subject is kept per pattern string: Lua interns short
  // strings, so a pattern literal keeps its address, and comparing its bytes again is cheaper
  // than reading the pattern twice. Only speed depends on this.
  function patternCost(p: number, pLength: number, n: number, honourAnchor: boolean): void {
    const heap = u8();
    const key = honourAnchor ? p : -p;
    const known = costs.get(key);
    if (known !== undefined && known.bytes.length === pLength) {
      let k = 0;
      while (k < pLength && known.bytes[k] === heap[p + k]) k++;
      if (k === pLength) {
        cost.perAttempt = known.cost.perAttempt;
        cost.trailing = known.cost.trailing;
        cost.anchored = known.cost.anchored;
        cost.scaled = false;
        return;
      }
    }
    luaPatternCost(heap, p, p + pLength, n, honourAnchor, cost);
    if (cost.scaled) return;
    if (costs.size >= COST_CACHE_SIZE) costs.clear();
    costs.set(key, { bytes: heap.slice(p, p + pLength), cost: { ...cost } });
  }

  function fail(state: number, outcome: LuaPatternFailure): never {
    if (outcome.kind === 'limit') meter.exceeded(state);
    return raise(state, outcome.kind === 'error' ? outcome.message : 'instruction limit exceeded');
  }

  function pushValues(state: number, subject: number, values: LuaCaptureValue[]): void {
    if (values.length > 0) api.checkstack(state, values.length, 'too many captures');
    for (const value of values) {
      if (value.kind === 'position') api.lua_pushinteger(state, BigInt(value.value));
      else api.lua_pushlstring(state, subject + value.start, value.end - value.start);
    }
  }

  const find = (isFind: boolean, native: LuaCFunction): LuaCFunction => (state) => {
    const s = stringAt(state, 1);
    const sLength = length;
    const p = s === 0 ? 0 : stringAt(state, 2);
    const pLength = length;
    const init = p === 0 ? null : optInteger(state, 3, 1);
    if (init === null) return native(state);
    const from = luaStartPosition(init, sLength) - 1;
    if (from > sLength) return native(state);
    const n = sLength - from;
    const plain = isFind && (!luaPatternSpecial(u8(), p, p + pLength) || api.lua_toboolean(state, 4) !== 0);
    const width = Math.max(1, pLength);
    if (!plain) patternCost(p, pLength, n, true);
    const bound = plain ? (n + 1) * width : luaPatternBound(cost, n, false);
    if (bound <= nativeLimit && bound <= meter.budget()) {
      const results = native(state);
      const start = isFind ? api.lua_tonumberx(state, -results, 0) : 0;
      if (start === 0) meter.charge(state, bound);
      else meter.charge(state, plain ? (start - from) * width : luaFindCharge(cost, n, from, start - 1, api.lua_tonumberx(state, 1 - results, 0)));
      return results;
    }
    const outcome = luaPatternFind(u8().subarray(s, s + sLength), u8().subarray(p, p + pLength), init, { plain, find: isFind, budget: meter.budget() });
    meter.charge(state, outcome.steps);
    if (outcome.kind === 'limit' || outcome.kind === 'error') return fail(state, outcome);
    if (outcome.kind === 'none') {
      api.lua_pushnil(state);
      return 1;
    }
    const values = luaCaptureValues(outcome, !isFind);
    if (!Array.isArray(values)) return raise(state, values.message);
    if (isFind) {
      api.lua_pushinteger(state, BigInt(outcome.start + 1));
      api.lua_pushinteger(state, BigInt(outcome.end));
    }
    pushValues(state, s, values);
    return values.length + (isFind ? 2 : 0);
  };

  // The metered gmatch iterator: upvalues subject, pattern, next position, end of the last match.
  const iterate: LuaCFunction = (state) => {
    const s = stringAt(state, upvalue(1));
    const sLength = length;
    const p = stringAt(state, upvalue(2));
    const pLength = length;
    const from = api.lua_tonumberx(state, upvalue(3), 0);
    const lastMatch = api.lua_tonumberx(state, upvalue(4), 0);
    const outcome = luaPatternScan(u8().subarray(s, s + sLength), u8().subarray(p, p + pLength), from, { lastMatch, anchored: false, budget: meter.budget() });
    meter.charge(state, outcome.steps);
    if (outcome.kind === 'limit' || outcome.kind === 'error') return fail(state, outcome);
    if (outcome.kind === 'none') return 0;
    const values = luaCaptureValues(outcome, true);
    if (!Array.isArray(values)) return raise(state, values.message);
    api.lua_pushinteger(state, BigInt(outcome.end));
    api.lua_copy(state, -1, upvalue(3));
    api.lua_copy(state, -1, upvalue(4));
    api.lua_settop(state, -2);
    pushValues(state, s, values);
    return values.length;
  };

  const gmatch = (native: LuaCFunction): LuaCFunction => (state) => {
    const s = stringAt(state, 1);
    const sLength = length;
    const p = s === 0 ? 0 : stringAt(state, 2);
    const pLength = length;
    const init = p === 0 ? null : optInteger(state, 3, 1);
    if (init === null) return native(state);
    const from = Math.min(luaStartPosition(init, sLength) - 1, sLength + 1);
    const n = Math.max(0, sLength - from);
    patternCost(p, pLength, n, false);
    const bound = luaPatternBound(cost, n, true);
    if (bound <= nativeLimit && bound <= meter.budget()) {
      meter.charge(state, bound);
      return native(state);
    }
    api.lua_settop(state, 2);
    api.lua_pushinteger(state, BigInt(from));
    api.lua_pushinteger(state, -1n);
    api.lua_pushcclosure(state, options.iterator(), 4);
    return 1;
  };

  const gsub = (native: LuaCFunction): LuaCFunction => (state) => {
    const s = stringAt(state, 1);
    const sLength = length;
    const p = s === 0 ? 0 : stringAt(state, 2);
    const pLength = length;
    const type = p === 0 ? LUA_TNONE : api.lua_type(state, 3);
    const known = type === LUA_TSTRING || type === LUA_TNUMBER || type === LUA_TFUNCTION || type === LUA_TTABLE;
    const maxN = known ? optInteger(state, 4, sLength + 1) : null;
    if (maxN === null) return native(state);
    patternCost(p, pLength, sLength, true);
    const bound = luaPatternBound(cost, sLength, true);
    if (bound <= nativeLimit && bound <= meter.budget()) {
      const results = native(state);
      stringAt(state, -results);
      meter.charge(state, bound + length);
      return results;
    }
    return meteredGsub(state, s, sLength, u8().slice(p, p + pLength), type, maxN);
  };

  function meteredGsub(state: number, s: number, sLength: number, pattern: Uint8Array, type: number, maxN: number): number {
    const r = type === LUA_TSTRING || type === LUA_TNUMBER ? stringAt(state, 3) : 0;
    const replacement = r === 0 ? null : u8().slice(r, r + length);
    const buffer = api.malloc(LUA_BUFFER_BYTES);
    if (buffer === 0) return raise(state, 'not enough memory');
    let changed = false;
    const add = (fromSubject: boolean, start: number, end: number) => {
      if (end <= start) return;
      meter.charge(state, end - start);
      api.luaL_addlstring(buffer, (fromSubject ? s : r) + start, end - start);
    };
    const sink: LuaReplacementSink = {
      bytes: add,
      position(value) {
        api.lua_pushinteger(state, BigInt(value));
        api.luaL_addvalue(buffer);
      },
    };
    try {
      api.luaL_buffinit(state, buffer);
      const outcome = luaGsubLoop(pattern, maxN, {
        subject: () => u8().subarray(s, s + sLength),
        budget: meter.budget,
        charge: (steps) => meter.charge(state, steps),
        keep: (start, end) => add(true, start, end),
        replace(match) {
          if (replacement !== null) {
            changed = true;
            return luaExpandReplacement(replacement, match, sink);
          }
          if (type === LUA_TTABLE) {
            const first = luaCaptureValue(match, 0);
            if (first.kind === 'error') return first.message;
            pushValues(state, s, [first]);
            api.lua_gettable(state, 3);
          } else {
            const values = luaCaptureValues(match, true);
            if (!Array.isArray(values)) return values.message;
            api.lua_pushvalue(state, 3);
            pushValues(state, s, values);
            api.lua_callk(state, values.length, 1, 0, 0);
          }
          const result = api.lua_type(state, -1);
          if (api.lua_toboolean(state, -1) === 0) {
            api.lua_settop(state, -2);
            add(true, match.start, match.end);
          } else if (result !== LUA_TSTRING && result !== LUA_TNUMBER) {
            return `invalid replacement value (a ${TYPE_NAMES[result + 1]})`;
          } else {
            api.luaL_addvalue(buffer);
            changed = true;
          }
          return null;
        },
      });
      if (outcome.kind !== 'done') return fail(state, outcome);
      if (changed) api.luaL_pushresult(buffer);
      else api.lua_pushvalue(state, 1);
      api.lua_pushinteger(state, BigInt(outcome.count));
      return 2;
    } finally {
      api.free(buffer);
    }
  }

  return { find: find(true, natives.find), match: find(false, natives.match), gmatch: gmatch(natives.gmatch), gsub: gsub(natives.gsub), iterate };
}
