import { Buffer } from 'node:buffer';
import { LUA_REGISTRYINDEX, LuaEngine, LuaFactory, LuaType } from 'wasmoon';
import type { LuaWasm } from 'wasmoon';
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
export async function createLuaVm(): Promise<LuaVm> {
  const factory = new LuaFactory();
  const lua = await factory.getLuaModule();
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
  const stats = (engine.global as unknown as { memoryStats: MemoryStats }).memoryStats;
  const meter: Meter = { gas: 0, tripped: null };
  let limit = 0;
  let deadline = 0;

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
    lua.lua_sethook(state, hookIndex, LUA_MASKCOUNT, 1);
    if (state !== L) lua.lua_sethook(L, hookIndex, LUA_MASKCOUNT, 1);
    lua.lua_pushstring(state, meter.tripped === 'time' ? 'wall-clock timeout exceeded' : 'instruction limit exceeded');
    lua.lua_error(state);
  }, 'vii');

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
      lua.lua_sethook(L, hookIndex, LUA_MASKCOUNT, HOOK_STEP);
    },

    disarm() {
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
    },
  };
}
