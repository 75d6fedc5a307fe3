/**
 * One live instance of an AO wasm module, driven synchronously (inside the process's worker):
 * boot through the module's initialisers, call `handle(msgJSON, envJSON)` the way emscripten's
 * cwrap does, and read or replace the state (linear memory plus mutable exported globals).
 */
import { createHash } from 'node:crypto';
import type { EvalResult } from '../../protocol/ao/types.ts';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';
import { wasmApi } from './wasm-api.ts';
import type { CompiledWasm, WasmApiGlobal, WasmApiInstance } from './wasm-api.ts';
import { exportedFunctionType } from './wasm-binary.ts';
import type { WasmModuleInfo } from './wasm-binary.ts';
import { PAGE_BYTES, WasmAbort, WasmExit, createEmscriptenHost } from './wasm-host.ts';
import type { ExportCaller } from './wasm-host.ts';

/** A global's value as text, so i64 (BigInt) values survive JSON and postMessage alike. */
export type GlobalValue = { name: string; value: string };
export type WasmState = { memory: Uint8Array; globals: GlobalValue[] };

export type CallOutcome = { result: EvalResult; failed: boolean; trapped: boolean };

export type WasmInstance = {
  call(messageJSON: string, envJSON: string, timestampMs: number): CallOutcome;
  /** False once a call trapped: internal globals (the stack pointer) may be left mid-call. */
  readonly healthy: boolean;
  memoryBytes(): number;
  /** The live memory; valid until the next call or growth. */
  view(): Uint8Array;
  globals(): GlobalValue[];
  /** Puts a state back; the memory grows to fit, it never shrinks (use a fresh instance then). */
  load(state: WasmState): void;
  hash(): string;
};

const utf8 = new TextDecoder();

export function errorResult(message: string): EvalResult {
  return { Output: { data: '' }, Messages: [], Spawns: [], Assignments: [], Error: message };
}

function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

/** Reads `{ok, response}` the way aos modules answer; anything else is an error result. */
export function readHandleResult(text: string, memoryLimitBytes: number): CallOutcome {
  const hint = (error: string) => (/not enough memory/.test(error) ? `${error} (memory limit ${memoryLimitBytes} bytes)` : error);
  let parsed: { ok?: unknown; response?: unknown };
  try {
    parsed = JSON.parse(text) as { ok?: unknown; response?: unknown };
  } catch {
    return { result: errorResult('the module returned text that is not JSON'), failed: true, trapped: false };
  }
  if (parsed.ok !== true || typeof parsed.response !== 'object' || parsed.response === null) {
    const why = typeof parsed.response === 'string' ? parsed.response : JSON.stringify(parsed.response ?? null);
    return { result: errorResult(`the module failed: ${hint(why)}`), failed: true, trapped: false };
  }
  const response = parsed.response as Record<string, unknown>;
  if (response.Error !== undefined && response.Error !== null) {
    const error = typeof response.Error === 'string' ? response.Error : JSON.stringify(response.Error);
    return { result: { ...errorResult(hint(error)), Output: response.Output ?? { data: '' } }, failed: true, trapped: false };
  }
  const result: EvalResult = {
    Output: response.Output ?? '',
    Messages: asArray(response.Messages),
    Spawns: asArray(response.Spawns),
    Assignments: asArray(response.Assignments),
  };
  if (typeof response.GasUsed === 'number') result.GasUsed = response.GasUsed;
  return { result, failed: false, trapped: false };
}

function trapText(error: unknown): string {
  if (error instanceof WasmAbort || error instanceof WasmExit) return error.message;
  if (error instanceof RangeError && /call stack/i.test(error.message)) return 'wasm trap: stack overflow';
  if (error instanceof wasmApi.RuntimeError) return `wasm trap: ${error.message}`;
  if (error instanceof LevityError) return error.message;
  return `wasm trap: ${error instanceof Error ? error.message : String(error)}`;
}

function tail(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > 2000 ? `…${trimmed.slice(-2000)}` : trimmed;
}

export function instantiateWasm(module: CompiledWasm, info: WasmModuleInfo, options: { memoryLimitBytes: number }): WasmInstance {
  const limit = options.memoryLimitBytes;
  const host = createEmscriptenHost(info, options);
  let instance: WasmApiInstance;
  try {
    instance = new wasmApi.Instance(module, host.imports);
  } catch (error) {
    throw new InvalidInputError('AO_WASM_INSTANTIATE', `the module cannot be instantiated: ${error instanceof Error ? error.message : String(error)}`);
  }
  host.attach(instance);
  const handle = host.caller('handle');
  if (!handle) throw new InvalidInputError('AO_WASM_NO_HANDLE', 'the module exports no handle(msgJSON, envJSON) function');
  const handleType = exportedFunctionType(info, 'handle')!;
  if (handleType.params.length !== 2 || handleType.results.length !== 1) {
    throw new InvalidInputError('AO_WASM_NO_HANDLE', 'the module exports handle, but not as handle(msgJSON, envJSON) -> string');
  }
  const malloc = host.caller('malloc');
  const free = host.caller('free');
  const stackSave = host.caller('stackSave') ?? host.caller('emscripten_stack_get_current');
  const stackRestore = host.caller('stackRestore') ?? host.caller('_emscripten_stack_restore');
  const stackAlloc = host.caller('stackAlloc') ?? host.caller('_emscripten_stack_alloc');
  if (!malloc && !(stackSave && stackRestore && stackAlloc)) {
    throw new InvalidInputError('AO_WASM_NO_ALLOCATOR', 'the module exports neither malloc nor stackSave/stackRestore/stackAlloc: the host cannot pass it strings');
  }
  const mutable = info.mutableGlobals.filter((g) => g.valueType === 'i32' || g.valueType === 'i64' || g.valueType === 'f32' || g.valueType === 'f64');
  let healthy = true;

  const memory = () => host.memory.memory();

  function boot(): void {
    host.begin({ timestampMs: 0, seedText: '' });
    const run = (name: string, ...args: number[]) => host.caller(name)?.(...args);
    try {
      run('emscripten_stack_init');
      if (host.caller('_initialize')) run('_initialize');
      else run('__wasm_call_ctors');
      const mainName = ['main', '__main_argc_argv'].find((name) => host.caller(name));
      if (mainName) {
        // main(argc, argv) gets no arguments; main(void) is exported with no parameters.
        const arity = exportedFunctionType(info, mainName)!.params.length;
        const status = host.caller(mainName)!(...new Array<number>(arity).fill(0));
        if (status !== 0) throw new WasmExit(status);
      }
    } catch (error) {
      if (!(error instanceof WasmExit && error.code === 0)) {
        const { stderr, stdout } = host.end();
        throw new InvalidInputError('AO_WASM_BOOT_FAILED', `the module failed to start: ${trapText(error)}`, { details: tail(stderr || stdout) || undefined });
      }
    }
    host.end();
    if (memory().buffer.byteLength > limit) {
      throw new InvalidInputError('AO_WASM_MEMORY_LIMIT', `the module uses ${memory().buffer.byteLength} bytes after starting; the limit is ${limit}`);
    }
  }

  function put(text: string): { ptr: number; release: () => void } {
    const length = Buffer.byteLength(text, 'utf8');
    if (malloc) {
      const ptr = malloc(length + 1);
      if (!ptr) throw new LevityError('AO_WASM_HEAP_FULL', `not enough memory to pass a ${length}-byte argument`);
      const view = host.memory.u8();
      Buffer.from(view.buffer, view.byteOffset, view.byteLength).write(text, ptr, length, 'utf8');
      view[ptr + length] = 0;
      return { ptr, release: () => free?.(ptr) };
    }
    const ptr = stackAlloc!(length + 1);
    const view = host.memory.u8();
    Buffer.from(view.buffer, view.byteOffset, view.byteLength).write(text, ptr, length, 'utf8');
    view[ptr + length] = 0;
    return { ptr, release: () => undefined };
  }

  function readGlobals(): GlobalValue[] {
    return mutable.map(({ name }) => ({ name, value: String((instance.exports[name] as WasmApiGlobal).value) }));
  }

  boot();

  return {
    get healthy() {
      return healthy;
    },

    call(messageJSON, envJSON, timestampMs) {
      host.begin({ timestampMs, seedText: messageJSON });
      const sp = malloc ? undefined : stackSave!();
      try {
        const message = put(messageJSON);
        const env = put(envJSON);
        const resultPtr = handle(message.ptr, env.ptr);
        const view = host.memory.u8();
        const end = view.indexOf(0, resultPtr);
        const text = utf8.decode(view.subarray(resultPtr, end < 0 ? view.length : end));
        env.release();
        message.release();
        if (sp !== undefined) stackRestore!(sp);
        host.end();
        if (memory().buffer.byteLength > limit) {
          return { result: errorResult(`memory limit exceeded: the module grew its memory past ${limit} bytes`), failed: true, trapped: false };
        }
        return readHandleResult(text, limit);
      } catch (error) {
        healthy = false;
        const { stderr } = host.end();
        const why = trapText(error);
        const printed = tail(stderr);
        return { result: errorResult(printed ? `${why}\n${printed}` : why), failed: true, trapped: true };
      }
    },

    memoryBytes() {
      return memory().buffer.byteLength;
    },

    view() {
      return host.memory.u8();
    },

    globals: readGlobals,

    load(state) {
      const mem = memory();
      const current = mem.buffer.byteLength;
      if (current > state.memory.length) {
        throw new LevityError('AO_WASM_STATE_SHAPE', 'this instance has more memory than the state to load; use a fresh instance');
      }
      if (state.memory.length % PAGE_BYTES !== 0) throw new InvalidInputError('AO_WASM_SNAPSHOT_INVALID', 'the saved memory is not a whole number of pages');
      if (state.memory.length > current) {
        const pages = (state.memory.length - current) / PAGE_BYTES;
        mem.grow(info.memory?.is64 ? BigInt(pages) : pages);
      }
      host.memory.u8().set(state.memory);
      for (const { name, value } of state.globals) {
        const global = instance.exports[name];
        const spec = mutable.find((g) => g.name === name);
        if (!(global instanceof wasmApi.Global) || !spec) continue;
        global.value = spec.valueType === 'i64' ? BigInt(value) : Number(value);
      }
      healthy = true;
    },

    hash() {
      const hash = createHash('sha256').update(host.memory.u8());
      if (mutable.length > 0) hash.update(JSON.stringify(readGlobals()));
      return hash.digest('hex');
    },
  };
}
