/**
 * What the CU needs from a process's evaluator, whichever kind of module it runs: Levity's Lua
 * modules (wasmoon, in the CU's thread) or AO wasm modules (emscripten builds, in a worker).
 */
import type { AoEnv, AoMessage, EvalResult } from '../../protocol/ao/types.ts';
import { createLuaProcess, restoreLuaProcess } from './lua-process.ts';
import type { LuaProcess } from './lua-process.ts';
import { createWasmProcess, restoreWasmProcess } from './wasm-process.ts';

export type ProcessVm = {
  /** Runs one message. A result with Error leaves the process as it was before the message. */
  evaluate(message: AoMessage, env: AoEnv): Promise<EvalResult>;
  /** Runs one message and forgets it, whatever the outcome (dry-run). */
  dryRun(message: AoMessage, env: AoEnv): Promise<EvalResult>;
  /** The whole state in a versioned format that restore takes back. */
  snapshot(): Promise<Uint8Array>;
  /** Hex sha256 of the process state: equal on every CU that evaluated the same messages. */
  stateHash(): Promise<string>;
  memoryUsed(): number;
  close(): Promise<void>;
};

/** A module's code: Lua source for `lua-5.4-levity`, the binary for the AO wasm formats. */
export type ModuleCode = { kind: 'lua'; source: string } | { kind: 'wasm'; bytes: Uint8Array };

export type ProcessVmOptions = {
  memoryLimitBytes: number;
  /** Lua: VM instructions one message may run. */
  instructionLimit: number;
  /** Wasm: wall-clock time one message may run before its worker is stopped (wasm is not metered). */
  wasmTimeoutMs: number;
};

export function luaProcessVm(lua: LuaProcess): ProcessVm {
  return {
    evaluate: async (message, env) => lua.evaluate(message, env),
    dryRun: async (message, env) => lua.dryRun(message, env),
    snapshot: async () => lua.snapshot(),
    stateHash: async () => lua.stateHash(),
    memoryUsed: () => lua.memoryUsed(),
    close: async () => lua.close(),
  };
}

export async function createProcessVm(code: ModuleCode, options: ProcessVmOptions): Promise<ProcessVm> {
  if (code.kind === 'wasm') return createWasmProcess(code.bytes, { memoryLimitBytes: options.memoryLimitBytes, timeoutMs: options.wasmTimeoutMs });
  return luaProcessVm(await createLuaProcess(code.source, { memoryLimitBytes: options.memoryLimitBytes, instructionLimit: options.instructionLimit }));
}

export async function restoreProcessVm(code: ModuleCode, snapshot: Uint8Array, options: ProcessVmOptions): Promise<ProcessVm> {
  if (code.kind === 'wasm') {
    return restoreWasmProcess(code.bytes, snapshot, { memoryLimitBytes: options.memoryLimitBytes, timeoutMs: options.wasmTimeoutMs });
  }
  const lua = await restoreLuaProcess(code.source, snapshot, { memoryLimitBytes: options.memoryLimitBytes, instructionLimit: options.instructionLimit });
  return luaProcessVm(lua);
}
