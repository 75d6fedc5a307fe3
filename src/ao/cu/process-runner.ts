import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError, errorMessage } from '../../protocol/errors.ts';
import {
  blockCronFirings,
  cronName,
  cronTicksIn,
  parseCronInterval,
  parseComputeLimit,
  parseMemoryLimit,
  processCrons,
  tagValue,
} from '../../protocol/ao/index.ts';
import type { IndexedCron } from '../../protocol/ao/index.ts';
import type { AoEnv, AoMessage, EvalResult, SuProcess, Tag } from '../../protocol/ao/types.ts';
import type { Logger } from '../../shared/log.ts';
import { createProcessVm, restoreProcessVm } from '../vm/process-vm.ts';
import type { ProcessVm, ProcessVmOptions } from '../vm/process-vm.ts';
import { cronMessage, processEnv, scheduledMessage, slotPosition } from './ao-message.ts';
import type { CuStore, ProcessProgress, StoredEvaluation } from './cu-store.ts';
import type { LoadedModule, ModuleLoader } from './module-loader.ts';
import type { BlockMeta, GatewayBlocksClient, SuClient } from '../unit-clients.ts';

export type CuLimits = {
  /** The most memory any process may use, whatever its tags ask for. */
  maxMemoryBytes: number;
  /** The most Lua instructions one message may run. */
  maxInstructions: number;
  /** Used when neither the process nor the module sets a limit. */
  defaultMemoryBytes: number;
  defaultInstructions: number;
  /** Wall-clock time one message of a wasm process may run (wasm is not metered); default 10 s. */
  wasmMessageTimeoutMs?: number;
};

export type ProcessRunnerDeps = {
  processId: string;
  su: SuClient;
  modules: ModuleLoader;
  store: CuStore;
  checkpointDir: string;
  limits: CuLimits;
  log: Logger;
  /** Evaluations between checkpoints. */
  checkpointEvery?: number;
  /**
   * The data of a gateway item, or undefined when no item has that id (On-Boot=<id>). Transient
   * failures must throw: the boot is then retried, never evaluated without its code.
   */
  itemData?: (id: string) => Promise<Uint8Array | undefined>;
  /** Block heights and timestamps for `N-blocks` crons; without it such crons are ignored. */
  blocks?: Pick<GatewayBlocksClient, 'blocksAt'>;
};

/** How far to evaluate: up to a nonce, to the SU's latest slot, or on to the SU's present time and block height (cron). */
export type EvaluationTarget = { nonce: number } | { latest: true; until?: { timestamp: number; blockHeight: number } };

export type StateReport = { hash: string; ordinate: number; nonce: number; timestamp: number; blockHeight: number; memoryUsed: number };

const PAGE = 1000;
const ITEM_ID = /^[A-Za-z0-9_-]{43}$/;
const DEFAULT_CHECKPOINT_EVERY = 2000;
const DEFAULT_WASM_MESSAGE_TIMEOUT_MS = 10_000;

/**
 * How far behind the SU's clock `/cron` stops time ticks for a process with time and block crons.
 * A block the SU has not seen yet may be stamped up to about its head cache's age (1 s) plus a
 * rounded-down second before the SU's "now" (the chain's clock runs at or ahead of the wall
 * clock); a time tick that could sort after such a block waits until it is known, so a CU that
 * ticks to "now" fires ticks in exactly the order of one that evaluates straight through.
 */
const BLOCK_CLOCK_MARGIN_MS = 5_000;

type Cron = IndexedCron & { interval: string; tags: Tag[] };

/**
 * How far one batch of cron ticks reaches: time ticks up to `timestamp`, block ticks up to
 * `height`. `holdLateBlocks` leaves block ticks stamped after `timestamp` for a later batch.
 */
type CronWindow = { timestamp: number; height: number; holdLateBlocks: boolean };

type EvaluationEntry = {
  nonce: number | null;
  messageId: string | null;
  assignmentId: string | null;
  cron: string | null;
  /**
   * A block tick: its timestamp is the block's, which may lie past the next message's, so it moves
   * neither the time-cron clock nor SU paging, and it is listed under the evaluation before it.
   */
  blockTick?: boolean;
};

type Live = {
  vm: ProcessVm;
  process: SuProcess;
  module: LoadedModule;
  env: AoEnv;
  options: ProcessVmOptions;
  crons: Cron[];
  position: ProcessProgress;
};

/**
 * One process on this CU: a live VM (Lua, or an AO wasm module in a worker thread) fed the
 * process's schedule in nonce order, with cron ticks generated between slots. Everything it does
 * is serialised, so requests for the same process never race; its state can always be rebuilt
 * from the last checkpoint plus the SU log.
 */
export function createProcessRunner(deps: ProcessRunnerDeps) {
  const { processId, su, store, log } = deps;
  const checkpointEvery = deps.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const checkpointFile = join(deps.checkpointDir, `${processId}.bin`);
  let live: Live | undefined;
  let tail: Promise<unknown> = Promise.resolve();

  function serial<T>(work: () => Promise<T>): Promise<T> {
    const next = tail.then(work, work);
    tail = next.catch(() => undefined);
    return next;
  }

  function limitsFor(process: SuProcess, module: LoadedModule): ProcessVmOptions {
    const { limits } = deps;
    const memoryTag = tagValue(process.tags, 'Memory-Limit') ?? tagValue(module.tags, 'Memory-Limit');
    const computeTag = tagValue(process.tags, 'Compute-Limit') ?? tagValue(module.tags, 'Compute-Limit');
    return {
      memoryLimitBytes: Math.min(memoryTag ? parseMemoryLimit(memoryTag) : limits.defaultMemoryBytes, limits.maxMemoryBytes),
      instructionLimit: Math.min(computeTag ? parseComputeLimit(computeTag) : limits.defaultInstructions, limits.maxInstructions),
      wasmTimeoutMs: limits.wasmMessageTimeoutMs ?? DEFAULT_WASM_MESSAGE_TIMEOUT_MS,
    };
  }

  function cronsOf(process: SuProcess): Cron[] {
    const crons: Cron[] = [];
    for (const [index, cron] of processCrons(process.tags).entries()) {
      try {
        const parsed = parseCronInterval(cron.interval);
        if (parsed.kind === 'time') crons.push({ index, interval: cron.interval, tags: cron.tags, kind: 'time', ms: parsed.ms });
        else if (deps.blocks) crons.push({ index, interval: cron.interval, tags: cron.tags, kind: 'blocks', blocks: parsed.blocks });
        else log.warn({ processId, interval: cron.interval }, 'block crons need the gateway blocks client; ignored');
      } catch (error) {
        log.warn({ processId, interval: cron.interval, err: errorMessage(error) }, 'ignoring a bad Cron-Interval');
      }
    }
    return crons;
  }

  async function boot(): Promise<Live> {
    if (live) return live;
    const process = await su.process(processId);
    const moduleId = tagValue(process.tags, 'Module');
    if (!moduleId) throw new InvalidInputError('CU_NO_MODULE', `process ${processId} has no Module tag`, { meta: { processId } });
    const module = await deps.modules.load(moduleId);
    const options = limitsFor(process, module);
    const fresh: ProcessProgress = {
      processId,
      ordinate: -1,
      nonce: -1,
      timestamp: 0,
      blockHeight: Number(process.block) || 0,
      checkpoint: null,
    };
    const saved = store.progress(processId);
    let vm: ProcessVm | undefined;
    let position = fresh;
    if (saved?.checkpoint && existsSync(saved.checkpoint.file)) {
      try {
        vm = await restoreProcessVm(module.code, await readFile(saved.checkpoint.file), options);
        const { ordinate, nonce, timestamp, blockHeight } = saved.checkpoint;
        position = { processId, ordinate, nonce, timestamp, blockHeight, checkpoint: saved.checkpoint };
        log.debug({ processId, ordinate }, 'process restored from its checkpoint');
      } catch (error) {
        log.warn({ processId, err: errorMessage(error) }, 'checkpoint unusable; replaying from the SU log');
      }
    }
    vm ??= await createProcessVm(module.code, options);
    live = { vm, process, module, env: processEnv(process, module), options, crons: cronsOf(process), position };
    return live;
  }

  async function evaluation(state: Live, message: AoMessage, entry: EvaluationEntry): Promise<StoredEvaluation> {
    let result: EvalResult;
    try {
      result = await state.vm.evaluate(message, state.env);
    } catch (error) {
      // The VM may be ahead of what is recorded (the batch is stored at its end): drop it, and
      // the next request starts again from the checkpoint.
      if (live === state) live = undefined;
      await state.vm.close().catch(() => undefined);
      throw error;
    }
    const position = state.position;
    const listedAt = entry.blockTick ? position.timestamp : message.Timestamp;
    position.ordinate += 1;
    if (!entry.blockTick) position.timestamp = Math.max(position.timestamp, message.Timestamp);
    // The highest block evaluated: block crons fire after it, time ticks carry it.
    position.blockHeight = Math.max(position.blockHeight, message['Block-Height']);
    if (entry.nonce !== null) position.nonce = entry.nonce;
    return {
      processId,
      ordinate: position.ordinate,
      timestamp: listedAt,
      blockHeight: message['Block-Height'],
      cron: entry.cron,
      result,
      nonce: entry.nonce,
      messageId: entry.messageId,
      assignmentId: entry.assignmentId,
    };
  }

  /** The process's own message, with the code its On-Boot tag names when that is another item. */
  async function withBootSource(message: AoMessage): Promise<AoMessage> {
    if (message.Id !== processId || !deps.itemData) return message;
    const onBoot = tagValue(message.Tags, 'On-Boot');
    if (onBoot === undefined || !ITEM_ID.test(onBoot)) return message;
    const data = await deps.itemData(onBoot);
    return data === undefined ? message : { ...message, 'On-Boot-Source': new TextDecoder().decode(data) };
  }

  /**
   * The cron ticks after the last evaluation, up to the window, time and block ticks together in
   * `cronTicksIn` order. A time tick carries the highest block evaluated before it; a block tick
   * its own block's height and time.
   */
  async function cronEvaluations(state: Live, window: CronWindow): Promise<StoredEvaluation[]> {
    if (state.crons.length === 0 || state.position.nonce < 0) return [];
    const firings = blockCronFirings(state.crons, Number(state.process.block) || 0, state.position.blockHeight, window.height);
    const blocks = firings.length > 0 ? await deps.blocks!.blocksAt(firings.map((firing) => firing.height)) : new Map<number, BlockMeta>();
    const ticks = cronTicksIn({
      crons: state.crons,
      processTimestamp: state.process.timestamp,
      afterTimestamp: state.position.timestamp,
      upToTimestamp: window.timestamp,
      blocks: firings.map((firing) => ({ ...firing, timestamp: blocks.get(firing.height)!.timestamp })),
      holdLateBlocks: window.holdLateBlocks,
    });
    const byIndex = new Map(state.crons.map((cron) => [cron.index, cron]));
    const evaluations: StoredEvaluation[] = [];
    for (const tick of ticks) {
      const cron = byIndex.get(tick.cron)!;
      const entry = { nonce: null, messageId: null, assignmentId: null, cron: cronName(cron.index, cron.interval) };
      if (tick.kind === 'block') {
        const message = cronMessage(state.process, cron.tags, tick.timestamp, tick.height);
        evaluations.push(await evaluation(state, message, { ...entry, blockTick: true }));
      } else {
        const message = cronMessage(state.process, cron.tags, tick.timestamp, state.position.blockHeight);
        evaluations.push(await evaluation(state, message, entry));
      }
    }
    return evaluations;
  }

  async function advance(target: EvaluationTarget): Promise<void> {
    const state = await boot();
    const wantNonce = 'nonce' in target ? target.nonce : Number.POSITIVE_INFINITY;
    let from = state.position.nonce < 0 ? undefined : state.position.timestamp;
    let pending = state.position.nonce < wantNonce ? su.page(processId, from, PAGE) : undefined;
    while (pending) {
      const page = await pending;
      pending = undefined;
      const lastEdge = page.edges.at(-1);
      const lastSlot = lastEdge && slotPosition(lastEdge.node);
      // Ask for the next page now, so the SU builds it while this one is evaluated.
      if (page.page_info.has_next_page && lastSlot && lastSlot.nonce < wantNonce) {
        from = lastSlot.timestamp;
        pending = su.page(processId, from, PAGE);
        pending.catch(() => undefined);
      }
      const batch: StoredEvaluation[] = [];
      try {
        for (const edge of page.edges) {
          const slot = slotPosition(edge.node);
          if (slot.nonce <= state.position.nonce) continue;
          if (slot.nonce > wantNonce) break;
          batch.push(...(await cronEvaluations(state, { timestamp: slot.timestamp - 1, height: slot.blockHeight, holdLateBlocks: false })));
          const message = await withBootSource(scheduledMessage(processId, edge.node));
          batch.push(await evaluation(state, message, { nonce: slot.nonce, messageId: message.Id ?? null, assignmentId: edge.node.assignment.id, cron: null }));
        }
      } finally {
        // Also when a block's time could not be read: the VM has evaluated these, so they are kept.
        if (batch.length > 0) store.record(batch, { ...state.position });
      }
      await maybeCheckpoint(state);
    }
    if ('latest' in target && target.until) await cronsUntil(state, target.until);
  }

  /**
   * Ticks crons up to the SU's present: nothing it schedules later is stamped at or before its
   * `timestamp`, nor below its `blockHeight`. With both kinds of cron, time ticks stop a margin
   * short of that time (BLOCK_CLOCK_MARGIN_MS) and block ticks stamped after the cut wait with
   * them, so what runs here is exactly what a straight evaluation runs first.
   */
  async function cronsUntil(state: Live, until: { timestamp: number; blockHeight: number }): Promise<void> {
    const hasTimeCrons = state.crons.some((cron) => cron.kind === 'time');
    const hasBlockCrons = state.crons.some((cron) => cron.kind === 'blocks');
    const cut = hasTimeCrons && hasBlockCrons ? until.timestamp - BLOCK_CLOCK_MARGIN_MS : until.timestamp;
    const window = { timestamp: Math.max(cut, state.position.timestamp), height: until.blockHeight, holdLateBlocks: hasTimeCrons };
    const batch = await cronEvaluations(state, window);
    if (batch.length === 0) return;
    store.record(batch, { ...state.position });
    await maybeCheckpoint(state);
  }

  async function writeCheckpoint(state: Live): Promise<void> {
    if (state.position.ordinate < 0 || state.position.checkpoint?.ordinate === state.position.ordinate) return;
    await mkdir(deps.checkpointDir, { recursive: true });
    const tmp = `${checkpointFile}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(await state.vm.snapshot());
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, checkpointFile);
    const { ordinate, nonce, timestamp, blockHeight } = state.position;
    state.position.checkpoint = { ordinate, nonce, timestamp, blockHeight, file: checkpointFile };
    store.saveProgress({ ...state.position });
  }

  async function maybeCheckpoint(state: Live): Promise<void> {
    const since = state.position.ordinate - (state.position.checkpoint?.ordinate ?? -1);
    if (since >= checkpointEvery) await writeCheckpoint(state);
  }

  return {
    processId,
    evaluateTo(target: EvaluationTarget): Promise<void> {
      return serial(() => advance(target));
    },

    /** Evaluates a message against the latest state and forgets it: nothing is stored. */
    dryRun(body: Partial<AoMessage>): Promise<EvalResult> {
      return serial(async () => {
        await advance({ latest: true });
        const state = live!;
        const tags = body.Tags ?? [];
        const owner = body.Owner ?? state.process.owner.address;
        const message: AoMessage = {
          Timestamp: state.position.timestamp,
          'Block-Height': state.position.blockHeight,
          Cron: false,
          ...body,
          Target: processId,
          Owner: owner,
          Data: body.Data ?? '',
          Tags: tags,
          From: tagValue(tags, 'From-Process') ?? owner,
          'Read-Only': true,
        };
        return state.vm.dryRun(message, state.env);
      });
    },

    state(): Promise<StateReport & { snapshot: Uint8Array }> {
      return serial(async () => {
        await advance({ latest: true });
        const state = live!;
        const { ordinate, nonce, timestamp, blockHeight } = state.position;
        return {
          hash: await state.vm.stateHash(),
          ordinate,
          nonce,
          timestamp,
          blockHeight,
          memoryUsed: state.vm.memoryUsed(),
          snapshot: await state.vm.snapshot(),
        };
      });
    },

    /** Writes a checkpoint and frees the VM; the next request restores it. */
    close(): Promise<void> {
      return serial(async () => {
        if (!live) return;
        try {
          await writeCheckpoint(live);
        } finally {
          await live.vm.close();
          live = undefined;
        }
      });
    },
  };
}

export type ProcessRunner = ReturnType<typeof createProcessRunner>;
