import { createHash } from 'node:crypto';
import type { AoEnv, AoMessage, EvalResult } from '../../protocol/ao/types.ts';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';
import { luaRuntimeFile } from './lua-runtime-source.ts';
import { createLuaVm } from './lua-vm.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-frame.ts';
import type { SnapshotFormat } from './snapshot-frame.ts';
import type { LuaVm } from './lua-vm.ts';

export type LuaProcessOptions = {
  /** Bytes the Lua allocator may hold; an allocation past it fails with "not enough memory". */
  memoryLimitBytes: number;
  /** VM instructions one message may run (counted in steps of 1000). */
  instructionLimit: number;
  /** Wall-clock net per message; not deterministic, so only for runaway code the count misses. */
  wallTimeoutMs?: number;
};

export type LuaProcess = {
  /** Runs one message. A result with Error leaves the process as it was before the message. */
  evaluate(message: AoMessage, env: AoEnv): EvalResult;
  /** Runs one message and forgets it, whatever the outcome (dry-run). */
  dryRun(message: AoMessage, env: AoEnv): EvalResult;
  /** The whole wasm heap plus what a fresh instance needs to take it back. */
  snapshot(): Uint8Array;
  /** Hex sha256 of a canonical dump of the process's globals. */
  stateHash(): string;
  memoryUsed(): number;
  close(): void;
};

/** Loading a module (the runtime's own boot) may take more than one message is allowed. */
const LOAD_INSTRUCTIONS = 50_000_000;
// Version 2 heaps hold the metered string functions (lua-vm.ts); a version 1 heap has neither
// them nor their scratch memory, so it is refused and the process replayed from its log.
const SNAPSHOT: SnapshotFormat = { magic: 'LEVITY-LUA-HEAP\n', version: 2, kind: 'Lua process', maxHeaderBytes: 4096 };
/** A rollback replays at most this much evaluation time, measured in heap copies. */
const REBASELINE_COPIES = 20;
const REBASELINE_MIN_MS = 200;
const JOURNAL_MAX_MESSAGES = 10_000;
const JOURNAL_MAX_BYTES = 64 * 1024 * 1024;
const BOOT_CACHE_SIZE = 4;

/** A copy of a process's heap that a rollback returns to (then replays the journal since). */
type Baseline = { heap: Uint8Array; memoryUsed: number };

/** The state right after loading a module: the same for every process of that module. */
type Boot = Baseline & { L: number; hookIndex: number; handleRef: number; dumpRef: number; moduleHash: string };

type SnapshotHeader = {
  version: number;
  moduleHash: string;
  L: number;
  hookIndex: number;
  handleRef: number;
  dumpRef: number;
  memoryUsed: number;
  heapLength: number;
};

const boots = new Map<string, Boot>();

function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

function checkOptions(options: LuaProcessOptions): void {
  const { memoryLimitBytes, instructionLimit, wallTimeoutMs } = options;
  if (!Number.isFinite(memoryLimitBytes) || memoryLimitBytes <= 0) {
    throw new InvalidInputError('AO_VM_BAD_OPTIONS', 'memoryLimitBytes must be a positive number', { meta: { memoryLimitBytes } });
  }
  if (!Number.isFinite(instructionLimit) || instructionLimit <= 0) {
    throw new InvalidInputError('AO_VM_BAD_OPTIONS', 'instructionLimit must be a positive number', { meta: { instructionLimit } });
  }
  if (wallTimeoutMs !== undefined && (!Number.isFinite(wallTimeoutMs) || wallTimeoutMs <= 0)) {
    throw new InvalidInputError('AO_VM_BAD_OPTIONS', 'wallTimeoutMs must be a positive number', { meta: { wallTimeoutMs } });
  }
}

function checkLayout(vm: LuaVm, expected: { L: number; hookIndex: number }): void {
  if (vm.L !== expected.L || vm.hookIndex !== expected.hookIndex) {
    throw new LevityError('AO_VM_LAYOUT_MISMATCH', 'this wasm instance is not laid out like the one the heap came from', {
      meta: { expected, actual: { L: vm.L, hookIndex: vm.hookIndex } },
    });
  }
}

async function bootModule(moduleSource: string, options: LuaProcessOptions): Promise<{ vm: LuaVm; boot: Boot }> {
  const moduleHash = sha256Hex(moduleSource);
  const vm = await createLuaVm();
  try {
    const cached = boots.get(moduleHash);
    if (cached) {
      checkLayout(vm, cached);
      if (cached.memoryUsed > options.memoryLimitBytes) {
        throw new InvalidInputError('AO_VM_MODULE_INVALID', 'the module does not fit in the memory limit', { meta: { needs: cached.memoryUsed } });
      }
      vm.setHeap(cached.heap, cached.memoryUsed);
      boots.delete(moduleHash);
      boots.set(moduleHash, cached);
      return { vm, boot: cached };
    }
    vm.stats.memoryMax = options.memoryLimitBytes;
    vm.arm(Math.max(options.instructionLimit, LOAD_INSTRUCTIONS), 0);
    const dumpRef = vm.runChunk(luaRuntimeFile('sandbox.lua'), 'sandbox', true);
    vm.runChunk(moduleSource, 'module', false);
    vm.disarm();
    vm.stats.memoryMax = undefined;
    const handleRef = vm.refGlobalFunction('handle');
    if (handleRef === null) throw new InvalidInputError('AO_VM_MODULE_INVALID', 'the module does not define a global function handle(msgJSON, envJSON)');
    const boot: Boot = { heap: vm.heap().slice(), memoryUsed: vm.stats.memoryUsed, L: vm.L, hookIndex: vm.hookIndex, handleRef, dumpRef, moduleHash };
    boots.set(moduleHash, boot);
    while (boots.size > BOOT_CACHE_SIZE) boots.delete(boots.keys().next().value as string);
    return { vm, boot };
  } catch (error) {
    vm.close();
    throw error;
  }
}

type Outcome = { result: EvalResult; failed: boolean };

function errorResult(message: string, gas: number): EvalResult {
  return { Output: { data: '' }, Messages: [], Spawns: [], Assignments: [], Error: message, GasUsed: gas };
}

function asArray<T>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

function wrapProcess(vm: LuaVm, boot: Boot, options: LuaProcessOptions, start: Baseline): LuaProcess {
  const { handleRef, dumpRef } = boot;
  vm.stats.memoryMax = options.memoryLimitBytes;
  let baseline: Baseline = start;
  let journal: { message: string; env: string }[] = [];
  let journalMs = 0;
  let journalBytes = 0;
  let copyMs = Math.max(1, start.heap.length / (2 * 1024 * 1024));
  let lastEnv: AoEnv | undefined;
  let lastEnvJSON = '';
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new LevityError('AO_VM_CLOSED', 'this Lua process is closed');
  }

  function envText(env: AoEnv): string {
    if (env !== lastEnv) {
      lastEnvJSON = JSON.stringify(env);
      lastEnv = env;
    }
    return lastEnvJSON;
  }

  function run(message: string, env: string, wall: boolean): Outcome {
    const deadline = wall && options.wallTimeoutMs !== undefined ? Date.now() + options.wallTimeoutMs : 0;
    vm.arm(options.instructionLimit, deadline);
    const called = vm.callRef(handleRef, [message, env]);
    const gas = vm.meter.gas;
    if (vm.meter.tripped === 'instructions') return { result: errorResult(`instruction limit exceeded (${options.instructionLimit} instructions)`, gas), failed: true };
    if (vm.meter.tripped === 'time') return { result: errorResult(`wall-clock timeout exceeded (${options.wallTimeoutMs} ms)`, gas), failed: true };
    if (!called.ok) return { result: errorResult(memoryHint(called.error), gas), failed: true };
    let parsed: { ok?: unknown; response?: unknown };
    try {
      parsed = JSON.parse(called.value) as { ok?: unknown; response?: unknown };
    } catch {
      return { result: errorResult('the module returned text that is not JSON', gas), failed: true };
    }
    if (parsed.ok !== true || typeof parsed.response !== 'object' || parsed.response === null) {
      return { result: errorResult(`the module failed: ${memoryHint(String(parsed.response))}`, gas), failed: true };
    }
    const response = parsed.response as Record<string, unknown>;
    const result: EvalResult = {
      Output: response.Output ?? '',
      Messages: asArray(response.Messages),
      Spawns: asArray(response.Spawns),
      Assignments: asArray(response.Assignments),
      GasUsed: gas,
    };
    if (response.Error !== undefined && response.Error !== null) {
      result.Error = memoryHint(typeof response.Error === 'string' ? response.Error : JSON.stringify(response.Error));
      result.Messages = [];
      result.Spawns = [];
      result.Assignments = [];
      return { result, failed: true };
    }
    return { result, failed: false };
  }

  function memoryHint(error: string): string {
    return error.includes('not enough memory') ? `${error} (memory limit ${options.memoryLimitBytes} bytes)` : error;
  }

  function rebaseline(): void {
    const started = performance.now();
    baseline = { heap: vm.heap().slice(), memoryUsed: vm.stats.memoryUsed };
    copyMs = Math.max(0.5, performance.now() - started);
    journal = [];
    journalMs = 0;
    journalBytes = 0;
  }

  // aos semantics: a message that ends in Error leaves no trace. The heap goes back to the last
  // copy and the messages since are replayed (evaluation is deterministic), then copied again so
  // that a run of failing messages costs one heap write each.
  function rollback(): void {
    vm.setHeap(baseline.heap, baseline.memoryUsed);
    if (journal.length === 0) return;
    for (const entry of journal) {
      const replayed = run(entry.message, entry.env, false);
      if (replayed.failed) {
        throw new LevityError('AO_VM_REPLAY_DIVERGED', 'replaying a message after a rollback gave a different outcome', {
          details: replayed.result.Error,
        });
      }
    }
    rebaseline();
  }

  function remember(message: string, env: string, elapsedMs: number): void {
    journal.push({ message, env });
    journalMs += elapsedMs;
    journalBytes += message.length;
    if (
      journalMs > Math.max(REBASELINE_MIN_MS, REBASELINE_COPIES * copyMs) ||
      journal.length >= JOURNAL_MAX_MESSAGES ||
      journalBytes > JOURNAL_MAX_BYTES
    ) {
      rebaseline();
    }
  }

  /** Runs `work` and puts the heap back exactly as it was, so host-side reads leave no trace. */
  function untouched<T>(work: () => T): T {
    const saved = vm.heap().slice();
    const used = vm.stats.memoryUsed;
    try {
      return work();
    } finally {
      vm.setHeap(saved, used);
      vm.stats.memoryMax = options.memoryLimitBytes;
    }
  }

  return {
    evaluate(message, env) {
      ensureOpen();
      const messageJSON = JSON.stringify(message);
      const envJSON = envText(env);
      const started = performance.now();
      const outcome = run(messageJSON, envJSON, true);
      if (outcome.failed) rollback();
      else remember(messageJSON, envJSON, performance.now() - started);
      return outcome.result;
    },

    dryRun(message, env) {
      ensureOpen();
      const messageJSON = JSON.stringify(message);
      const envJSON = envText(env);
      return untouched(() => run(messageJSON, envJSON, true).result);
    },

    snapshot() {
      ensureOpen();
      const heap = vm.heap();
      const header: SnapshotHeader = {
        version: SNAPSHOT.version,
        moduleHash: boot.moduleHash,
        L: vm.L,
        hookIndex: vm.hookIndex,
        handleRef,
        dumpRef,
        memoryUsed: vm.stats.memoryUsed,
        heapLength: heap.length,
      };
      return encodeSnapshot(SNAPSHOT, header, heap);
    },

    stateHash() {
      ensureOpen();
      return untouched(() => {
        vm.stats.memoryMax = undefined;
        vm.disarm();
        const dumped = vm.callRef(dumpRef, []);
        if (!dumped.ok) throw new LevityError('AO_VM_STATE_DUMP', 'cannot dump the process state', { details: dumped.error });
        return sha256Hex(dumped.value);
      });
    },

    memoryUsed() {
      return vm.stats.memoryUsed;
    },

    close() {
      if (closed) return;
      closed = true;
      vm.close();
    },
  };
}

/** Boots a process from a module's Lua source (a chunk that defines the global `handle`). */
export async function createLuaProcess(moduleSource: string, options: LuaProcessOptions): Promise<LuaProcess> {
  checkOptions(options);
  const { vm, boot } = await bootModule(moduleSource, options);
  return wrapProcess(vm, boot, options, boot);
}

function parseSnapshot(snapshot: Uint8Array): { header: SnapshotHeader; heap: Uint8Array } {
  const { header, body: heap } = decodeSnapshot<SnapshotHeader>(SNAPSHOT, snapshot);
  if (heap.length !== header.heapLength) throw new InvalidInputError('AO_VM_SNAPSHOT_INVALID', 'not a Lua process snapshot: truncated heap');
  return { header, heap };
}

/** Brings back a process from snapshot(); the module source must be the one it was created from. */
export async function restoreLuaProcess(moduleSource: string, snapshot: Uint8Array, options: LuaProcessOptions): Promise<LuaProcess> {
  checkOptions(options);
  const { header, heap } = parseSnapshot(snapshot);
  const moduleHash = sha256Hex(moduleSource);
  if (header.moduleHash !== moduleHash) {
    throw new InvalidInputError('AO_VM_SNAPSHOT_MISMATCH', 'the snapshot was taken from a process of another module', {
      meta: { snapshotModule: header.moduleHash, module: moduleHash },
    });
  }
  const vm = await createLuaVm();
  try {
    checkLayout(vm, header);
    const start: Baseline = { heap: heap.slice(), memoryUsed: header.memoryUsed };
    vm.setHeap(start.heap, start.memoryUsed);
    const boot: Boot = { ...start, L: header.L, hookIndex: header.hookIndex, handleRef: header.handleRef, dumpRef: header.dumpRef, moduleHash };
    return wrapProcess(vm, boot, options, start);
  } catch (error) {
    vm.close();
    throw error;
  }
}
