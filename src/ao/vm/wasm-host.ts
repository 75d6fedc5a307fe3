/**
 * The host side of an emscripten-built AO module, written from the import names a module
 * declares (no JS glue needed): heap growth under the process's memory limit, setjmp/longjmp
 * trampolines, stdout/stderr captured, and a sandbox with no files, no environment and no host
 * clock or entropy. Time is the message's timestamp and randomness is derived from the message,
 * so every CU computes the same memory from the same messages.
 */
import { createHash } from 'node:crypto';
import { InvalidInputError } from '../../protocol/errors.ts';
import { wasmApi } from './wasm-api.ts';
import type { MemoryDescriptor, WasmApiInstance, WasmApiMemory, WasmApiTable, WasmImportObject } from './wasm-api.ts';
import { exportedFunctionType } from './wasm-binary.ts';
import type { FuncType, WasmImport, WasmModuleInfo } from './wasm-binary.ts';
import { createHostMemory } from './wasm-host-memory.ts';
import type { HostFn, HostMemory } from './wasm-host-memory.ts';
import { clockImports, timeImports } from './wasm-time.ts';
import { sandboxImports, syscallImport } from './wasm-wasi.ts';

/** abort(), a failed assert() or an uncaught longjmp: the call cannot go on. */
export class WasmAbort extends Error {
  override name = 'WasmAbort';
}
/** exit()/proc_exit(): the module asked to stop. */
export class WasmExit extends Error {
  override name = 'WasmExit';
  readonly code: number;
  constructor(code: number) {
    super(`the module exited with code ${code}`);
    this.code = code;
  }
}
/** Thrown by longjmp and caught by the invoke_* trampoline that guards the matching setjmp. */
class WasmLongjmp extends Error {
  override name = 'WasmLongjmp';
}

export const PAGE_BYTES = 65536;
const IMPORT_MODULES = new Set(['env', 'wasi_snapshot_preview1', 'wasi_unstable']);
/** Each stream keeps at most this much of one message's output. */
const MAX_CAPTURE_BYTES = 1024 * 1024;

export type HostCallContext = { timestampMs: number; seedText: string };

export type ExportCaller = (...args: number[]) => number;

export type EmscriptenHost = {
  imports: WasmImportObject;
  memory: HostMemory;
  /** Hooks the host up to the instance's exports (memory, table, stack and setThrew). */
  attach(instance: WasmApiInstance): void;
  /** Calls an export with plain numbers, whatever the module's pointer width; undefined when absent. */
  caller(name: string): ExportCaller | undefined;
  begin(context: HostCallContext): void;
  /** What the module wrote to stdout and stderr since begin(). */
  end(): { stdout: string; stderr: string };
};

export function createEmscriptenHost(info: WasmModuleInfo, options: { memoryLimitBytes: number }): EmscriptenHost {
  const is64 = info.memory?.is64 ?? false;
  const memory = createHostMemory(is64);
  const limit = Math.floor(options.memoryLimitBytes / PAGE_BYTES) * PAGE_BYTES;
  let instance: WasmApiInstance | undefined;
  let table: WasmApiTable | undefined;
  let context: HostCallContext = { timestampMs: 0, seedText: '' };
  let captured: { stdout: Uint8Array[]; stderr: Uint8Array[]; sizes: [number, number] } = { stdout: [], stderr: [], sizes: [0, 0] };
  let random: { seed: Buffer; counter: number; pool: Buffer } | undefined;
  const callers = new Map<string, ExportCaller | undefined>();

  function caller(name: string): ExportCaller | undefined {
    if (callers.has(name)) return callers.get(name);
    const fn = instance?.exports[name];
    const type = exportedFunctionType(info, name);
    let wrapped: ExportCaller | undefined;
    if (typeof fn === 'function' && type) {
      const f = fn as (...args: unknown[]) => unknown;
      const wide = type.params.map((p) => p === 'i64');
      wrapped = (...args) => Number(f(...args.map((a, i) => (wide[i] ? BigInt(a) : a))) ?? 0);
    }
    callers.set(name, wrapped);
    return wrapped;
  }

  function required(name: string, ...alternatives: string[]): ExportCaller {
    for (const n of [name, ...alternatives]) {
      const found = caller(n);
      if (found) return found;
    }
    throw new InvalidInputError('AO_WASM_EXPORT_MISSING', `the module imports invoke_* but exports no ${name}`, { meta: { export: name } });
  }

  function capture(fd: number, bytes: Uint8Array): void {
    const i = fd === 1 ? 0 : 1;
    const room = MAX_CAPTURE_BYTES - captured.sizes[i];
    if (room <= 0) return;
    const kept = bytes.length > room ? bytes.slice(0, room) : bytes.slice();
    captured.sizes[i] += kept.length;
    (fd === 1 ? captured.stdout : captured.stderr).push(kept);
  }

  /** A stream derived from the message alone: sha256(seed || counter) blocks. */
  function randomBytes(length: number): Buffer {
    random ??= { seed: createHash('sha256').update('levity-wasm-random\0').update(context.seedText).digest(), counter: 0, pool: Buffer.alloc(0) };
    const state = random;
    while (state.pool.length < length) {
      state.pool = Buffer.concat([state.pool, createHash('sha256').update(state.seed).update(String(state.counter++)).digest()]);
    }
    const bytes = state.pool.subarray(0, length);
    state.pool = state.pool.subarray(length);
    return bytes;
  }

  function randomFill(ptr: number, length: number): number {
    memory.u8().set(randomBytes(length), ptr);
    return 0;
  }

  /** Emscripten's growth policy (+20%, at most +96 MiB past the request), capped at the limit. */
  function resizeHeap(requested: number): number {
    const mem = memory.memory();
    const old = mem.buffer.byteLength;
    if (requested <= old) return 1;
    if (requested > limit) return 0;
    for (let cut = 1; cut <= 4; cut *= 2) {
      const overGrown = Math.min(old * (1 + 0.2 / cut), requested + 96 * 1024 * 1024);
      const size = Math.min(limit, Math.ceil(Math.max(requested, overGrown) / PAGE_BYTES) * PAGE_BYTES);
      try {
        const pages = (size - old) / PAGE_BYTES;
        mem.grow(is64 ? BigInt(pages) : pages);
        return 1;
      } catch {
        // Try a smaller step, as emscripten does.
      }
    }
    return 0;
  }

  const abort: HostFn = () => {
    throw new WasmAbort('the module called abort()');
  };
  const exit: HostFn = (args) => {
    throw new WasmExit(args[0] ?? 0);
  };
  const memcpy: HostFn = (args) => {
    const [dest, src, length] = args as [number, number, number];
    memory.u8().copyWithin(dest, src, src + length);
    return dest;
  };
  const builtins: Record<string, HostFn> = {
    ...timeImports(memory),
    ...clockImports(memory, () => context.timestampMs),
    ...sandboxImports(memory, capture),
    abort,
    _abort_js: abort,
    __assert_fail: (args) => {
      throw new WasmAbort(`assertion failed: ${memory.readCString(args[0]!)} at ${memory.readCString(args[1]!)}:${args[2]}`);
    },
    exit,
    proc_exit: exit,
    _emscripten_throw_longjmp: () => {
      throw new WasmLongjmp('longjmp');
    },
    emscripten_longjmp: (args) => {
      required('setThrew')(args[0]!, args[1] || 1);
      throw new WasmLongjmp('longjmp');
    },
    emscripten_resize_heap: (args) => resizeHeap(is64 ? args[0]! : args[0]! >>> 0),
    emscripten_notify_memory_growth: () => undefined,
    emscripten_get_heap_max: () => limit,
    emscripten_get_heap_size: () => memory.memory().buffer.byteLength,
    emscripten_memcpy_big: memcpy,
    _emscripten_memcpy_big: memcpy,
    _emscripten_memcpy_js: memcpy,
    emscripten_memcpy_js: memcpy,
    getTempRet0: () => memory.tempRet0(),
    setTempRet0: (args) => memory.setTempRet0(args[0]!),
    random_get: (args) => randomFill(args[0]!, args[1]!),
    getentropy: (args) => randomFill(args[0]!, args[1]!),
    // Random doubles come from the same stream as random_get.
    emscripten_random: () => Number(randomBytes(8).readBigUInt64LE(0) >> 11n) / 2 ** 53,
    emscripten_console_log: (args) => capture(2, new TextEncoder().encode(`${memory.readCString(args[0]!)}\n`)),
    emscripten_console_warn: (args) => capture(2, new TextEncoder().encode(`${memory.readCString(args[0]!)}\n`)),
    emscripten_console_error: (args) => capture(2, new TextEncoder().encode(`${memory.readCString(args[0]!)}\n`)),
    _emscripten_runtime_keepalive_clear: () => undefined,
  };

  /** Calls a function-table entry; a longjmp or C++ unwind lands here and becomes setThrew(1, 0). */
  function trampoline(name: string, type: FuncType): (...raw: unknown[]) => unknown {
    const letters = name.slice('invoke_'.length);
    // Without WASM_BIGINT every i64 ('j') argument arrives as two i32 halves.
    const legalised = letters.includes('j') && type.params.length !== letters.length;
    const returnsWide = letters[0] === 'j';
    return (index: unknown, ...args: unknown[]) => {
      const stackSave = required('stackSave', 'emscripten_stack_get_current');
      const stackRestore = required('stackRestore', '_emscripten_stack_restore');
      const sp = stackSave();
      try {
        const fn = table!.get(Number(index)) as ((...a: unknown[]) => unknown) | null;
        if (!fn) throw new WasmAbort(`invoke through an empty function-table slot ${String(index)}`);
        if (!legalised) {
          const callee = info.functionTypes[info.tableFunctions.get(Number(index)) ?? -1];
          if (!callee || sameTypes(callee.params, type.params.slice(1))) return fn(...args);
          // Early wasm64 builds declare some pointer-sized arguments as i32 in their invoke_*
          // imports; the callee's own signature decides.
          return asType(fn(...args.map((arg, i) => asType(arg, callee.params[i]))), type.results[0]);
        }
        const real: unknown[] = [];
        let a = 0;
        for (const letter of letters.slice(1)) {
          if (letter === 'j') {
            real.push(BigInt.asIntN(64, (BigInt((args[a + 1] as number) >>> 0) << 32n) | BigInt((args[a] as number) >>> 0)));
            a += 2;
          } else real.push(args[a++]);
        }
        const result = fn(...real);
        if (!returnsWide) return result;
        memory.setTempRet0(Number(BigInt.asIntN(32, (result as bigint) >> 32n)));
        return Number(BigInt.asIntN(32, result as bigint));
      } catch (error) {
        stackRestore(sp);
        if (!(error instanceof WasmLongjmp)) throw error;
        required('setThrew')(1, 0);
        return type.results[0] === 'i64' ? 0n : type.results.length > 0 ? 0 : undefined;
      }
    };
  }

  function sameTypes(a: readonly string[], b: readonly string[]): boolean {
    return a.length === b.length && a.every((t, i) => t === b[i]);
  }

  function asType(value: unknown, type: string | undefined): unknown {
    if (type === 'i64' && typeof value === 'number') return BigInt(Math.trunc(value));
    if (type === 'i32' && typeof value === 'bigint') return Number(BigInt.asIntN(32, value));
    return value;
  }

  function adapt(fn: HostFn, type: FuncType): (...raw: unknown[]) => unknown {
    const wide = type.params.some((p) => p === 'i64');
    const result = type.results[0];
    return (...raw: unknown[]) => {
      const out = fn(wide ? raw.map(Number) : (raw as number[]), type);
      if (result === undefined) return undefined;
      if (result === 'i64') return BigInt(Math.trunc(out ?? 0));
      return out ?? 0;
    };
  }

  const imports: Record<string, Record<string, unknown>> = {};
  const missing: string[] = [];
  const provide = (imp: WasmImport, value: unknown) => ((imports[imp.module] ??= {})[imp.name] = value);

  for (const imp of info.imports) {
    const known = IMPORT_MODULES.has(imp.module);
    if (known && imp.kind === 'function') {
      const fn = imp.name.startsWith('invoke_')
        ? trampoline(imp.name, imp.type)
        : imp.name.startsWith('__syscall_')
          ? adapt(syscallImport(memory, imp.name.slice('__syscall_'.length)), imp.type)
          : builtins[imp.name] && adapt(builtins[imp.name]!, imp.type);
      if (fn) provide(imp, fn);
      else missing.push(`${imp.module}.${imp.name}`);
    } else if (known && imp.kind === 'memory' && !imp.limits.shared) {
      if (imp.limits.min * PAGE_BYTES > limit) {
        throw new InvalidInputError('AO_WASM_MEMORY_LIMIT', `the module needs ${imp.limits.min * PAGE_BYTES} bytes of memory to start; the limit is ${limit}`);
      }
      const maximum = Math.min(imp.limits.max ?? Number.MAX_SAFE_INTEGER, limit / PAGE_BYTES);
      const descriptor = is64
        ? { initial: BigInt(imp.limits.min), maximum: BigInt(maximum), address: 'i64' }
        : { initial: imp.limits.min, maximum };
      provide(imp, new wasmApi.Memory(descriptor as MemoryDescriptor));
    } else if (known && imp.kind === 'table' && !imp.limits.is64) {
      table = new wasmApi.Table({ element: 'anyfunc', initial: imp.limits.min, ...(imp.limits.max === undefined ? {} : { maximum: imp.limits.max }) });
      provide(imp, table);
    } else {
      missing.push(`${imp.module}.${imp.name} (${imp.kind})`);
    }
  }
  if (missing.length > 0) {
    throw new InvalidInputError(
      'AO_WASM_IMPORT_UNSUPPORTED',
      `the module needs imports this CU does not provide: ${missing.join(', ')}`,
      { meta: { missing }, details: 'modules built with minified import names need the JS glue they were built with and cannot run here' },
    );
  }

  return {
    imports,
    memory,
    caller,
    attach(created) {
      instance = created;
      callers.clear();
      const importedMemory = Object.values(imports).flatMap((m) => Object.values(m)).find((v) => v instanceof wasmApi.Memory);
      const exported = Object.values(created.exports).find((v) => v instanceof wasmApi.Memory);
      const mem = (importedMemory ?? exported) as WasmApiMemory | undefined;
      if (!mem) throw new InvalidInputError('AO_WASM_MODULE_INVALID', 'the module has no linear memory');
      const malloc = caller('malloc');
      memory.bind(mem, malloc);
      // The trampolines need these; better a clear refusal now than a trap at the first setjmp.
      if (info.imports.some((imp) => imp.name.startsWith('invoke_'))) {
        required('stackSave', 'emscripten_stack_get_current');
        required('stackRestore', '_emscripten_stack_restore');
        required('setThrew');
      }
      const exportedTable = Object.values(created.exports).find((v) => v instanceof wasmApi.Table);
      table ??= exportedTable as WasmApiTable | undefined;
    },
    begin(next) {
      context = next;
      random = undefined;
      captured = { stdout: [], stderr: [], sizes: [0, 0] };
    },
    end() {
      const text = (chunks: Uint8Array[]) => Buffer.concat(chunks).toString('utf8');
      return { stdout: text(captured.stdout), stderr: text(captured.stderr) };
    },
  };
}

