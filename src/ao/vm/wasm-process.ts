/**
 * An AO wasm process: a live instance in its own worker thread (spec ao.md §7: never copy
 * memory per message), a baseline copy of its memory in shared memory, and the messages
 * evaluated since. A message that errors or traps puts the baseline back and replays them
 * (evaluation is deterministic); one that overstays its time loses its worker, and a new worker
 * is rebuilt the same way. The baseline is refreshed once replaying would cost more than ~20
 * copies, so rollbacks stay cheap and successful messages never pay for a copy.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { AoEnv, AoMessage, EvalResult } from '../../protocol/ao/types.ts';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';
import type { ProcessVm } from './process-vm.ts';
import { wasmApi } from './wasm-api.ts';
import type { CompiledWasm } from './wasm-api.ts';
import { parseWasmModule } from './wasm-binary.ts';
import type { WasmModuleInfo } from './wasm-binary.ts';
import { errorResult } from './wasm-instance.ts';
import type { GlobalValue } from './wasm-instance.ts';
import type { CallReply, JournalEntry, SharedState, WorkerReply, WorkerRequest } from './wasm-worker.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-frame.ts';
import type { SnapshotFormat } from './snapshot-frame.ts';

export type WasmProcessOptions = {
  /** The most linear memory the process may grow to. */
  memoryLimitBytes: number;
  /** Wall-clock time one message may run; past it the worker is stopped and the process restored. */
  timeoutMs: number;
  /** Time allowed for booting (initialisers), or for restoring and replaying; default max(timeoutMs, 60 s). */
  bootTimeoutMs?: number;
};

const WORKER_URL = new URL('./wasm-worker.ts', import.meta.url);
const SNAPSHOT: SnapshotFormat = { magic: 'LEVITY-WASM-STATE\n', version: 1, kind: 'wasm process', maxHeaderBytes: 1024 * 1024 };
const REBASELINE_COPIES = 20;
const REBASELINE_MIN_MS = 200;
const JOURNAL_MAX_MESSAGES = 10_000;
const JOURNAL_MAX_BYTES = 64 * 1024 * 1024;
const COMPILED_CACHE_SIZE = 4;

type Compiled = { module: CompiledWasm; info: WasmModuleInfo; hash: string };
type SnapshotHeader = { version: number; moduleHash: string; memoryBytes: number; globals: GlobalValue[] };

/** The worker stopped answering: it ran past its time, or died. */
class WorkerGone extends LevityError {
  override name = 'WorkerGone';
}

const compiledModules = new Map<string, Promise<Compiled>>();

function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Compiles once per module binary; processes of the same module share the compiled code. */
function compile(bytes: Uint8Array): Promise<Compiled> {
  const hash = sha256Hex(bytes);
  let found = compiledModules.get(hash);
  if (!found) {
    found = (async () => {
      const info = parseWasmModule(bytes);
      try {
        return { module: await wasmApi.compile(bytes), info, hash };
      } catch (error) {
        throw new InvalidInputError('AO_WASM_MODULE_INVALID', `the module does not compile: ${error instanceof Error ? error.message : String(error)}`);
      }
    })();
    compiledModules.set(hash, found);
    found.catch(() => compiledModules.delete(hash));
    while (compiledModules.size > COMPILED_CACHE_SIZE) compiledModules.delete(compiledModules.keys().next().value as string);
  }
  return found;
}

function checkOptions(options: WasmProcessOptions): void {
  for (const key of ['memoryLimitBytes', 'timeoutMs'] as const) {
    const value = options[key];
    if (!Number.isFinite(value) || value <= 0) throw new InvalidInputError('AO_VM_BAD_OPTIONS', `${key} must be a positive number`, { meta: { [key]: value } });
  }
}

type Link = { request<T>(request: WorkerRequest, timeoutMs: number): Promise<T>; terminate(): Promise<void> };

function connect(): Link {
  const worker = new Worker(WORKER_URL);
  let pending: { resolve(value: unknown): void; reject(error: Error): void; timer: NodeJS.Timeout } | undefined;
  let gone: WorkerGone | undefined;

  function fail(error: WorkerGone): void {
    gone ??= error;
    const current = pending;
    pending = undefined;
    if (current) {
      clearTimeout(current.timer);
      current.reject(gone);
    }
  }

  worker.on('message', (reply: WorkerReply) => {
    const current = pending;
    pending = undefined;
    if (!current) return;
    clearTimeout(current.timer);
    if (reply.ok) return current.resolve(reply.value);
    const { code, message, details, meta, invalidInput } = reply.error;
    current.reject(invalidInput ? new InvalidInputError(code, message, { details, meta }) : new LevityError(code, message, { details, meta }));
  });
  worker.on('error', (error) => fail(new WorkerGone('AO_WASM_WORKER_DIED', `the wasm worker failed: ${error.message}`)));
  worker.on('exit', (code) => fail(new WorkerGone('AO_WASM_WORKER_DIED', `the wasm worker exited (code ${code})`)));
  // An idle process must not keep the CU (or a test) alive; a pending request holds a timer.
  worker.unref();

  return {
    request<T>(request: WorkerRequest, timeoutMs: number): Promise<T> {
      if (gone) return Promise.reject(gone);
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          fail(new WorkerGone('AO_WASM_TIMEOUT', `ran past ${timeoutMs} ms`, { meta: { timeoutMs } }));
          void worker.terminate();
        }, timeoutMs);
        pending = { resolve: resolve as (value: unknown) => void, reject, timer };
        worker.postMessage(request);
      });
    },
    async terminate() {
      gone ??= new WorkerGone('AO_VM_CLOSED', 'this wasm process is closed');
      await worker.terminate();
    },
  };
}

/** A worker holding a booted instance, restored from `from` and `replay` when given. */
async function start(compiled: Compiled, options: WasmProcessOptions, from: SharedState | undefined, replay: JournalEntry[]): Promise<{ link: Link; memoryBytes: number }> {
  const link = connect();
  const timeoutMs = (options.bootTimeoutMs ?? Math.max(options.timeoutMs, 60_000)) + replay.length * options.timeoutMs;
  try {
    const request: WorkerRequest = { op: 'init', module: compiled.module, info: compiled.info, memoryLimitBytes: options.memoryLimitBytes, from, replay };
    const memoryBytes = await link.request<number>(request, timeoutMs);
    return { link, memoryBytes };
  } catch (error) {
    await link.terminate();
    if (error instanceof WorkerGone && error.code === 'AO_WASM_TIMEOUT') {
      throw new InvalidInputError('AO_WASM_BOOT_TIMEOUT', `the module did not start within ${timeoutMs} ms`);
    }
    throw error;
  }
}

function wrap(compiled: Compiled, options: WasmProcessOptions, started: { link: Link; memoryBytes: number }, base: { state: SharedState; copyMs: number }): ProcessVm {
  let { link, memoryBytes } = started;
  let baseline = base.state;
  let copyMs = Math.max(0.5, base.copyMs);
  let journal: JournalEntry[] = [];
  let journalMs = 0;
  let journalBytes = 0;
  let lastEnv: AoEnv | undefined;
  let lastEnvJSON = '';
  let closed = false;
  let tail: Promise<unknown> = Promise.resolve();

  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = tail.then(() => {
      if (closed) throw new LevityError('AO_VM_CLOSED', 'this wasm process is closed');
      return work();
    });
    tail = next.catch(() => undefined);
    return next;
  }

  function envText(env: AoEnv): string {
    if (env !== lastEnv) {
      lastEnvJSON = JSON.stringify(env);
      lastEnv = env;
    }
    return lastEnvJSON;
  }

  async function rebaseline(): Promise<void> {
    const fresh = await link.request<{ state: SharedState; copyMs: number }>({ op: 'baseline' }, Math.max(options.timeoutMs, 60_000));
    baseline = fresh.state;
    copyMs = Math.max(0.5, fresh.copyMs);
    journal = [];
    journalMs = 0;
    journalBytes = 0;
  }

  /** A new worker at the baseline plus the journal: the state before the message that failed. */
  async function recover(): Promise<void> {
    void link.terminate();
    const restarted = await start(compiled, options, baseline, journal);
    link = restarted.link;
    memoryBytes = restarted.memoryBytes;
    if (journal.length > 0) await rebaseline();
  }

  async function rollback(): Promise<void> {
    try {
      memoryBytes = await link.request<number>({ op: 'rollback', replay: journal }, options.timeoutMs * (journal.length + 1));
    } catch (error) {
      if (!(error instanceof WorkerGone)) throw error;
      await recover();
      return;
    }
    if (journal.length > 0) await rebaseline();
  }

  async function run(message: AoMessage, env: AoEnv, dry: boolean): Promise<EvalResult> {
    const messageJSON = JSON.stringify(message);
    const envJSON = envText(env);
    const timestampMs = Number(message.Timestamp) || 0;
    let reply: CallReply;
    try {
      reply = await link.request<CallReply>({ op: 'call', message: messageJSON, env: envJSON, timestampMs, dry }, options.timeoutMs);
    } catch (error) {
      if (!(error instanceof WorkerGone)) throw error;
      await recover();
      return errorResult(
        error.code === 'AO_WASM_TIMEOUT'
          ? `compute time limit exceeded: the message ran past ${options.timeoutMs} ms and was stopped`
          : `${error.shortMessage}; the process was restored to its state before the message`,
      );
    }
    memoryBytes = reply.memoryBytes;
    if (dry) return reply.result;
    if (reply.failed) {
      await rollback();
      return reply.result;
    }
    journal.push({ message: messageJSON, env: envJSON, timestampMs });
    journalMs += reply.elapsedMs;
    journalBytes += messageJSON.length;
    if (journalMs > Math.max(REBASELINE_MIN_MS, REBASELINE_COPIES * copyMs) || journal.length >= JOURNAL_MAX_MESSAGES || journalBytes > JOURNAL_MAX_BYTES) {
      await rebaseline();
    }
    return reply.result;
  }

  return {
    evaluate: (message, env) => serial(() => run(message, env, false)),
    dryRun: (message, env) => serial(() => run(message, env, true)),
    snapshot: () =>
      serial(async () => {
        const { memory, globals } = await link.request<{ memory: Uint8Array; globals: GlobalValue[] }>({ op: 'snapshot' }, Math.max(options.timeoutMs, 60_000));
        const header: SnapshotHeader = { version: SNAPSHOT.version, moduleHash: compiled.hash, memoryBytes: memory.length, globals };
        return encodeSnapshot(SNAPSHOT, header, memory);
      }),
    stateHash: () => serial(() => link.request<string>({ op: 'hash' }, Math.max(options.timeoutMs, 60_000))),
    memoryUsed: () => memoryBytes,
    close: async () => {
      if (closed) return;
      closed = true;
      await tail;
      await link.terminate();
    },
  };
}

/** Boots a process from an AO wasm module binary (emscripten, wasm32 or wasm64). */
export async function createWasmProcess(moduleBytes: Uint8Array, options: WasmProcessOptions): Promise<ProcessVm> {
  checkOptions(options);
  const compiled = await compile(moduleBytes);
  const started = await start(compiled, options, undefined, []);
  try {
    const base = await started.link.request<{ state: SharedState; copyMs: number }>({ op: 'baseline' }, Math.max(options.timeoutMs, 60_000));
    return wrap(compiled, options, started, base);
  } catch (error) {
    await started.link.terminate();
    throw error;
  }
}

function parseSnapshot(snapshot: Uint8Array): { header: SnapshotHeader; memory: Uint8Array } {
  const { header, body: memory } = decodeSnapshot<SnapshotHeader>(SNAPSHOT, snapshot);
  if (memory.length !== header.memoryBytes) throw new InvalidInputError('AO_VM_SNAPSHOT_INVALID', 'not a wasm process snapshot: truncated memory');
  return { header, memory };
}

/** Brings back a process from snapshot(); the module must be the one it was created from. */
export async function restoreWasmProcess(moduleBytes: Uint8Array, snapshot: Uint8Array, options: WasmProcessOptions): Promise<ProcessVm> {
  checkOptions(options);
  const { header, memory } = parseSnapshot(snapshot);
  const compiled = await compile(moduleBytes);
  if (header.moduleHash !== compiled.hash) {
    throw new InvalidInputError('AO_VM_SNAPSHOT_MISMATCH', 'the snapshot was taken from a process of another module', {
      meta: { snapshotModule: header.moduleHash, module: compiled.hash },
    });
  }
  if (memory.length > options.memoryLimitBytes) {
    throw new InvalidInputError('AO_WASM_MEMORY_LIMIT', `the snapshot holds ${memory.length} bytes of memory; the limit is ${options.memoryLimitBytes}`);
  }
  const shared = new SharedArrayBuffer(memory.length);
  new Uint8Array(shared).set(memory);
  const state: SharedState = { memory: shared, globals: header.globals };
  const started = await start(compiled, options, state, []);
  return wrap(compiled, options, started, { state, copyMs: memory.length / (2 * 1024 * 1024) });
}
