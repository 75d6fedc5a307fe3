/**
 * The thread a wasm process lives in. A wasm loop cannot be interrupted from its own thread, so
 * the process's instance runs here and the main thread terminates the worker when a message
 * overstays its time; the baseline it restores from is shared memory that outlives the worker.
 */
import { parentPort } from 'node:worker_threads';
import { LevityError } from '../../protocol/errors.ts';
import type { EvalResult } from '../../protocol/ao/types.ts';
import type { CompiledWasm } from './wasm-api.ts';
import type { WasmModuleInfo } from './wasm-binary.ts';
import { instantiateWasm } from './wasm-instance.ts';
import type { GlobalValue, WasmInstance, WasmState } from './wasm-instance.ts';

/** A message evaluated since the baseline, kept so a rollback can replay it. */
export type JournalEntry = { message: string; env: string; timestampMs: number };
/** A memory copy in shared memory: the main thread keeps it when the worker is terminated. */
export type SharedState = { memory: SharedArrayBuffer; globals: GlobalValue[] };

export type WorkerRequest =
  | { op: 'init'; module: CompiledWasm; info: WasmModuleInfo; memoryLimitBytes: number; from?: SharedState; replay: JournalEntry[] }
  | { op: 'call'; message: string; env: string; timestampMs: number; dry: boolean }
  | { op: 'rollback'; replay: JournalEntry[] }
  | { op: 'baseline' }
  | { op: 'snapshot' }
  | { op: 'hash' };

export type CallReply = { result: EvalResult; failed: boolean; trapped: boolean; memoryBytes: number; elapsedMs: number };

export type WorkerReply =
  | { ok: true; value: unknown }
  | { ok: false; error: { code: string; message: string; details?: string; meta?: Record<string, unknown>; invalidInput: boolean } };

type Loaded = { module: CompiledWasm; info: WasmModuleInfo; memoryLimitBytes: number };

let loaded: Loaded | undefined;
let instance: WasmInstance | undefined;
let baseline: SharedState | undefined;

function fresh(state: WasmState | undefined): WasmInstance {
  const created = instantiateWasm(loaded!.module, loaded!.info, { memoryLimitBytes: loaded!.memoryLimitBytes });
  if (state) created.load(state);
  return created;
}

function stateOf(shared: SharedState): WasmState {
  return { memory: new Uint8Array(shared.memory), globals: shared.globals };
}

/** Back to `state`: in place when the instance is sound and the same size, else in a new one. */
function restore(state: WasmState): void {
  if (instance && instance.healthy && instance.memoryBytes() === state.memory.length) instance.load(state);
  else instance = fresh(state);
}

function replay(entries: JournalEntry[]): void {
  for (const entry of entries) {
    const outcome = instance!.call(entry.message, entry.env, entry.timestampMs);
    if (outcome.failed) {
      throw new LevityError('AO_WASM_REPLAY_DIVERGED', 'replaying a message after a rollback gave a different outcome', {
        details: outcome.result.Error,
      });
    }
  }
}

function handle(request: WorkerRequest): { value: unknown; transfer?: ArrayBuffer[] } {
  switch (request.op) {
    case 'init': {
      loaded = { module: request.module, info: request.info, memoryLimitBytes: request.memoryLimitBytes };
      baseline = request.from;
      instance = fresh(baseline && stateOf(baseline));
      replay(request.replay);
      return { value: instance.memoryBytes() };
    }
    case 'call': {
      const current = instance!;
      const saved: WasmState | undefined = request.dry ? { memory: current.view().slice(), globals: current.globals() } : undefined;
      const started = performance.now();
      const outcome = current.call(request.message, request.env, request.timestampMs);
      const elapsedMs = performance.now() - started;
      if (saved) restore(saved);
      const reply: CallReply = { ...outcome, memoryBytes: instance!.memoryBytes(), elapsedMs };
      return { value: reply };
    }
    case 'rollback': {
      restore(stateOf(baseline!));
      replay(request.replay);
      return { value: instance!.memoryBytes() };
    }
    case 'baseline': {
      const started = performance.now();
      const view = instance!.view();
      const memory = new SharedArrayBuffer(view.length);
      new Uint8Array(memory).set(view);
      baseline = { memory, globals: instance!.globals() };
      return { value: { state: baseline, copyMs: performance.now() - started } };
    }
    case 'snapshot': {
      const memory = instance!.view().slice();
      return { value: { memory, globals: instance!.globals() }, transfer: [memory.buffer] };
    }
    case 'hash':
      return { value: instance!.hash() };
  }
}

parentPort?.on('message', (request: WorkerRequest) => {
  let reply: WorkerReply;
  let transfer: ArrayBuffer[] | undefined;
  try {
    const done = handle(request);
    reply = { ok: true, value: done.value };
    transfer = done.transfer;
  } catch (error) {
    const levity = error instanceof LevityError ? error : undefined;
    reply = {
      ok: false,
      error: {
        code: levity?.code ?? 'AO_WASM_WORKER_ERROR',
        message: levity ? levity.shortMessage : error instanceof Error ? error.message : String(error),
        details: levity?.details,
        meta: levity ? { ...levity.meta } : undefined,
        invalidInput: levity?.name === 'InvalidInputError',
      },
    };
  }
  parentPort!.postMessage(reply, transfer);
});
