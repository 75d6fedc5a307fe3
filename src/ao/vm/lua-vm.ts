import { Buffer } from 'node:buffer';
import { LUA_REGISTRYINDEX, LuaEngine, LuaFactory, LuaType } from 'wasmoon';
import type { LuaWasm } from 'wasmoon';
import { LUA_REGISTRY_INDEX, createLuaStringFunctions } from '../../protocol/ao/lua-pattern-lib.ts';
import type { LuaCApi, LuaCFunction, LuaPatternMeter } from '../../protocol/ao/lua-pattern-lib.ts';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';

/**
 * One Lua state in its own wasm instance, driven through the raw C API so that nothing the host
 * holds lives outside the wasm heap: copying HEAPU8 captures the whole process, and a fresh
 * instance set up the same way can take that copy back.
 */

const LUA_MASKCOUNT = 8;
const LUA_OK = 0;
const utf8 = new TextDecoder();

/** Instructions between two calls of the metering hook; GasUsed counts in these steps. */
export const HOOK_STEP = 1000;
/**
 * A string.find/match/gmatch/gsub call whose cost bound (lua-pattern-cost.ts) is at most this
 * runs in Lua's C matcher, unmetered but charged its bound; a costlier one runs the metered
 * matcher. About 10 ms of C matching at worst, while JSON and handler patterns stay in C.
 */
export const NATIVE_PATTERN_LIMIT = 10_000_000;

export type Trip = 'instructions' | 'time';

export type Meter = {
  /** Instructions counted since the last arm(). */
  gas: number;
  tripped: Trip | null;
};

type MemoryStats = { memoryUsed: number; memoryMax?: number };

/** The wasm exports behind wasmoon's ccall wrappers; the per-message path calls them directly. */
type RawLua = {
  _malloc(size: number): number;
  _free(pointer: number): void;
  _lua_gettop(L: number): number;
  _lua_settop(L: number, index: number): void;
  _lua_type(L: number, index: number): number;
  _lua_rawgeti(L: number, index: number, n: bigint): number;
  _lua_pushlstring(L: number, pointer: number, length: number): number;
  _lua_tolstring(L: number, index: number, lengthPointer: number): number;
  _lua_pcallk(L: number, nargs: number, nresults: number, errfunc: number, ctx: number, k: number): number;
};

/** The exports of wasmoon's wasm instance: the C API (called directly by the string functions) and the function table. */
type WasmExports = Omit<LuaCApi, 'heap' | 'word' | 'error' | 'checkstack'> & {
  memory: { readonly buffer: ArrayBuffer };
  __indirect_function_table: { get(index: number): unknown };
};

export type LuaVmOptions = {
  /** Cost bound up to which pattern calls run in C (tests set 0 to send every call through the metered matcher). */
  nativePatternLimit?: number;
};

export type LuaVm = {
  readonly lua: LuaWasm;
  readonly L: number;
  readonly hookIndex: number;
  readonly meter: Meter;
  /** Resets the meter and starts counting against `limit`; `deadline` (ms since epoch, 0 = none) is the wall-clock net. */
  arm(limit: number, deadline: number): void;
  disarm(): void;
  /** Calls the registry function `ref` with string arguments; returns its string result or the error text. */
  callRef(ref: number, args: readonly string[]): { ok: true; value: string } | { ok: false; error: string };
  /** Loads and runs a text chunk; with `keepResult` the chunk's first result is stored in the registry and its ref returned. */
  runChunk(source: string, name: string, keepResult: boolean): number;
  /** The global `name`, stored in the registry; returns its ref, or null when it is not a function. */
  refGlobalFunction(name: string): number | null;
  heap(): Uint8Array;
  /** Puts a heap copy back, growing the wasm memory first when the copy is larger. */
  setHeap(bytes: Uint8Array, memoryUsed: number): void;
  stats: MemoryStats;
  close(): void;
};

/**
 * A fresh state with the standard libraries. The host clock is pinned while the state is built:
 * Lua seeds its string hashing and math.random from time(), which would make table iteration
 * order, and so a process's outputs, differ between two processes created a second apart.
 */
export async function createLuaVm(options: LuaVmOptions = {}): Promise<LuaVm> {
  const { lua, api } = await loadLuaModule();
  const realNow = Date.now;
  let engine: LuaEngine;
  Date.now = () => 0;
  try {
    engine = new LuaEngine(lua, { injectObjects: false, enableProxy: false, traceAllocations: true, openStandardLibs: true });
  } finally {
    Date.now = realNow;
  }
  const L = engine.global.address;
  const raw = lua.module as unknown as RawLua;
  // Made before anything else touches the heap, so it lands at the same address in every instance.
  const lengthSlot = raw._malloc(4);
  const patternSlot = raw._malloc(8);
  const stats = (engine.global as unknown as { memoryStats: MemoryStats }).memoryStats;
  const meter: Meter = { gas: 0, tripped: null };
  let limit = 0;
  let deadline = 0;
  let armed = false;

  // Lua 5.4 threads inherit the hook of the thread that creates them, so setting it on the main
  // state meters every coroutine too. Once tripped it fires on every instruction of whichever
  // thread runs, so a pcall in user code cannot swallow the error and carry on.
  const hookIndex: number = lua.module.addFunction((state: number) => {
    if (meter.tripped === null) {
      meter.gas += HOOK_STEP;
      if (meter.gas > limit) meter.tripped = 'instructions';
      else if (deadline !== 0 && Date.now() > deadline) meter.tripped = 'time';
      else return;
    }
    raiseTrip(state);
  }, 'vii');

  function raiseTrip(state: number): void {
    lua.lua_sethook(state, hookIndex, LUA_MASKCOUNT, 1);
    if (state !== L) lua.lua_sethook(L, hookIndex, LUA_MASKCOUNT, 1);
    lua.lua_pushstring(state, meter.tripped === 'time' ? 'wall-clock timeout exceeded' : 'instruction limit exceeded');
    lua.lua_error(state);
  }

  // Pattern work is charged to the same meter as instructions, and trips it the same way.
  const patternIndices = installStringFunctions(lua, api, L, patternSlot, options.nativePatternLimit ?? NATIVE_PATTERN_LIMIT, {
    budget: () => (armed ? Math.max(0, limit - meter.gas) : limit),
    charge(state, steps) {
      if (!armed) return;
      meter.gas += steps;
      if (meter.gas <= limit) return;
      meter.tripped ??= 'instructions';
      raiseTrip(state);
    },
    exceeded(state) {
      if (!armed) return;
      meter.tripped ??= 'instructions';
      raiseTrip(state);
    },
  });
  // Closures in the heap hold these table slots, so a restored heap needs them at the same place.
  patternIndices.forEach((index, k) => {
    if (index !== hookIndex + 1 + k) throw new LevityError('AO_VM_LAYOUT_MISMATCH', 'the pattern functions did not get the expected wasm table slots', { meta: { hookIndex, patternIndices } });
  });

  // Strings cross as UTF-8 bytes with explicit lengths: no NUL scanning, no per-char JS loops.
  function pushString(text: string): void {
    const length = Buffer.byteLength(text, 'utf8');
    const pointer = raw._malloc(length + 1);
    if (!pointer) throw new LevityError('AO_VM_HEAP_FULL', 'the wasm heap cannot hold a message argument', { meta: { length } });
    try {
      const heap = lua.module.HEAPU8;
      Buffer.from(heap.buffer, heap.byteOffset, heap.byteLength).write(text, pointer, length, 'utf8');
      raw._lua_pushlstring(L, pointer, length);
    } finally {
      raw._free(pointer);
    }
  }

  function readString(index: number): string {
    const pointer = raw._lua_tolstring(L, index, lengthSlot);
    const heap = lua.module.HEAPU8;
    const length = new DataView(heap.buffer, heap.byteOffset, heap.byteLength).getUint32(lengthSlot, true);
    return utf8.decode(heap.subarray(pointer, pointer + length));
  }

  // Converting a non-string error allocates, and outside a protected call that must not fail.
  function errorText(): string {
    const max = stats.memoryMax;
    stats.memoryMax = undefined;
    try {
      const type = lua.lua_type(L, -1);
      if (type === LuaType.String || type === LuaType.Number) return lua.lua_tolstring(L, -1, null);
      return lua.luaL_tolstring(L, -1, null);
    } finally {
      stats.memoryMax = max;
    }
  }

  function call(nargs: number, nresults: number): { ok: true } | { ok: false; error: string } {
    const status = lua.lua_pcallk(L, nargs, nresults, 0, 0, null);
    if (status === LUA_OK) return { ok: true };
    return { ok: false, error: errorText() };
  }

  return {
    lua,
    L,
    hookIndex,
    meter,
    stats,

    arm(newLimit, newDeadline) {
      meter.gas = 0;
      meter.tripped = null;
      limit = newLimit;
      deadline = newDeadline;
      armed = true;
      lua.lua_sethook(L, hookIndex, LUA_MASKCOUNT, HOOK_STEP);
    },

    disarm() {
      armed = false;
      lua.lua_sethook(L, null, 0, 0);
    },

    callRef(ref, args) {
      const top = raw._lua_gettop(L);
      try {
        raw._lua_rawgeti(L, LUA_REGISTRYINDEX, BigInt(ref));
        // An allocation failure outside a protected call would abort the instance, so the
        // arguments go in unmetered; the first allocation of the call itself then fails instead.
        const max = stats.memoryMax;
        stats.memoryMax = undefined;
        try {
          for (const arg of args) pushString(arg);
        } finally {
          stats.memoryMax = max;
        }
        const status = raw._lua_pcallk(L, args.length, 1, 0, 0, 0);
        if (status !== LUA_OK) return { ok: false, error: errorText() };
        if (raw._lua_type(L, -1) !== LuaType.String) return { ok: false, error: 'the entry function did not return a string' };
        return { ok: true, value: readString(-1) };
      } finally {
        raw._lua_settop(L, top);
      }
    },

    runChunk(source, name, keepResult) {
      const top = lua.lua_gettop(L);
      const size = lua.module.lengthBytesUTF8(source);
      const buffer = lua.module._malloc(size + 1);
      let status: number;
      try {
        lua.module.stringToUTF8(source, buffer, size + 1);
        status = lua.luaL_loadbufferx(L, buffer, size, `=${name}`, 't');
      } finally {
        lua.module._free(buffer);
      }
      try {
        if (status !== LUA_OK) {
          throw new InvalidInputError('AO_VM_MODULE_INVALID', `the ${name} chunk does not compile`, { details: errorText() });
        }
        const result = call(0, keepResult ? 1 : 0);
        if (!result.ok) throw new InvalidInputError('AO_VM_MODULE_INVALID', `the ${name} chunk failed to load`, { details: result.error });
        if (!keepResult) return 0;
        if (lua.lua_type(L, -1) !== LuaType.Function) throw new LevityError('AO_VM_PRELUDE_BROKEN', `the ${name} chunk did not return a function`);
        return lua.luaL_ref(L, LUA_REGISTRYINDEX);
      } finally {
        lua.lua_settop(L, top);
      }
    },

    refGlobalFunction(name) {
      const top = lua.lua_gettop(L);
      try {
        if (lua.lua_getglobal(L, name) !== LuaType.Function) return null;
        return lua.luaL_ref(L, LUA_REGISTRYINDEX);
      } finally {
        lua.lua_settop(L, top);
      }
    },

    heap() {
      return lua.module.HEAPU8;
    },

    setHeap(bytes, memoryUsed) {
      const current = lua.module.HEAPU8.length;
      if (bytes.length > current) {
        // Growing goes through emscripten's own path so its views follow; the contents are replaced next.
        const grown = lua.module._malloc(bytes.length - current + 1024 * 1024);
        if (!grown) throw new LevityError('AO_VM_HEAP_GROW', 'cannot grow the wasm heap to restore a snapshot', { meta: { bytes: bytes.length } });
      }
      const heap = lua.module.HEAPU8;
      heap.set(bytes);
      if (heap.length > bytes.length) heap.fill(0, bytes.length);
      stats.memoryUsed = memoryUsed;
    },

    close() {
      engine.global.close();
      lua.module.removeFunction(hookIndex);
      for (const index of patternIndices) lua.module.removeFunction(index);
    },
  };
}

/** The slice of the WebAssembly global used here (the project's TypeScript libs do not declare it). */
type WasmInstance = { readonly exports: Readonly<Record<string, unknown>> };
type Instantiate = (source: unknown, imports?: unknown) => Promise<WasmInstance | { instance: WasmInstance }>;
const webAssembly = (globalThis as unknown as { WebAssembly: { instantiate: Instantiate } }).WebAssembly;
const captured: WasmInstance[] = [];
let capturing = 0;
let realInstantiate: Instantiate = webAssembly.instantiate;

/**
 * wasmoon keeps its wasm instance to itself and wraps each export in a function that builds two
 * strings per call, too slow for string.find; the pattern functions also need the function table
 * to call the C string functions in their caller's frame. So WebAssembly.instantiate is wrapped
 * while the module loads, and our instance is told apart from others loading by its memory.
 */
async function loadLuaModule(): Promise<{ lua: LuaWasm; api: WasmExports }> {
  if (capturing++ === 0) {
    const real = webAssembly.instantiate;
    realInstantiate = real;
    webAssembly.instantiate = async (source, imports) => {
      const result = await real.call(webAssembly, source, imports);
      captured.push('instance' in result ? result.instance : result);
      return result;
    };
  }
  try {
    const lua = await new LuaFactory().getLuaModule();
    const at = captured.findIndex((instance) => (instance.exports.memory as { buffer?: unknown } | undefined)?.buffer === lua.module.HEAPU8.buffer);
    if (at === -1) throw new LevityError('AO_VM_WASM_EXPORTS', 'cannot reach the exports of the Lua wasm instance');
    const [instance] = captured.splice(at, 1);
    return { lua, api: instance!.exports as unknown as WasmExports };
  } finally {
    if (--capturing === 0) {
      webAssembly.instantiate = realInstantiate;
      captured.length = 0;
    }
  }
}

const PATTERN_FUNCTIONS = ['find', 'match', 'gmatch', 'gsub'] as const;

/**
 * Puts the metered string.find, match, gmatch and gsub (lua-pattern-lib.ts) in the string table,
 * which is also the string metatable's __index, so s:find(...) gets them too. They are C
 * functions in the heap's eyes: table slots, which a restored heap finds at the same place as
 * long as every instance adds them in the same order. Returns those slots.
 */
function installStringFunctions(lua: LuaWasm, exports: WasmExports, L: number, scratch: number, nativeLimit: number, meter: LuaPatternMeter): number[] {
  if (LUA_REGISTRY_INDEX !== LUA_REGISTRYINDEX) throw new LevityError('AO_VM_LAYOUT_MISMATCH', 'this wasmoon build has another LUA_REGISTRYINDEX');
  // Views of the heap, made again once growth has detached them (a detached view reads as empty).
  let u8 = new Uint8Array(exports.memory.buffer);
  let u32 = new Uint32Array(exports.memory.buffer);
  const heap = () => (u8.length === 0 ? (u8 = new Uint8Array(exports.memory.buffer)) : u8);
  const word = (pointer: number) => (u32.length === 0 ? (u32 = new Uint32Array(exports.memory.buffer)) : u32)[pointer >>> 2]!;
  // Only the calls used, in an object of its own: one holding all 165 exports would be a slow dictionary.
  const api: LuaCApi = {
    malloc: exports.malloc,
    free: exports.free,
    lua_type: exports.lua_type,
    lua_tolstring: exports.lua_tolstring,
    lua_tonumberx: exports.lua_tonumberx,
    lua_toboolean: exports.lua_toboolean,
    lua_settop: exports.lua_settop,
    lua_pushvalue: exports.lua_pushvalue,
    lua_pushnil: exports.lua_pushnil,
    lua_pushinteger: exports.lua_pushinteger,
    lua_pushlstring: exports.lua_pushlstring,
    lua_pushcclosure: exports.lua_pushcclosure,
    lua_copy: exports.lua_copy,
    lua_callk: exports.lua_callk,
    lua_gettable: exports.lua_gettable,
    luaL_buffinit: exports.luaL_buffinit,
    luaL_addlstring: exports.luaL_addlstring,
    luaL_addvalue: exports.luaL_addvalue,
    luaL_pushresult: exports.luaL_pushresult,
    heap,
    word,
    error(state, message) {
      lua.luaL_where(state, 1);
      lua.lua_pushstring(state, message);
      lua.lua_concat(state, 2);
      lua.lua_error(state);
      throw new LevityError('AO_VM_LUA_ERROR', 'lua_error returned');
    },
    checkstack: (state, n, message) => lua.luaL_checkstack(state, n, message),
  };
  lua.lua_getglobal(L, 'string');
  const [find, match, gmatch, gsub] = PATTERN_FUNCTIONS.map((name) => {
    lua.lua_getfield(L, -1, name);
    const native = exports.__indirect_function_table.get(lua.lua_tocfunction(L, -1)) as LuaCFunction;
    lua.lua_settop(L, -2);
    return native;
  }) as [LuaCFunction, LuaCFunction, LuaCFunction, LuaCFunction];
  let iterator = 0;
  const functions = createLuaStringFunctions(api, { find, match, gmatch, gsub }, meter, { nativeLimit, scratch, iterator: () => iterator });
  const indices = [functions.find, functions.match, functions.gmatch, functions.gsub, functions.iterate].map((fn) => lua.module.addFunction(fn, 'ii'));
  iterator = indices[4]!;
  PATTERN_FUNCTIONS.forEach((name, k) => {
    lua.lua_pushcclosure(L, indices[k]!, 0);
    lua.lua_setfield(L, -2, name);
  });
  lua.lua_settop(L, -2);
  return indices;
}
