/**
 * The crank (spec ao.md §3.1): read a result from the CU and push its outbox. Each outbox
 * message becomes a data item signed by the MU wallet and scheduled on the target's SU; each
 * spawn becomes a Process item plus a `Spawned` notice to the parent; each assignment becomes an
 * SU assignment. Whatever is pushed is cranked in turn, through the durable queue.
 *
 * Every item the MU builds is a pure function of the outbox entry (ed25519 signatures are
 * deterministic, and a missing anchor is derived from the source), so a step redone after a
 * crash produces the same id, which the SU already has: a retry never delivers twice.
 */
import { createHash } from 'node:crypto';
import { createDataItem, isTxId, toB64Url } from '../../protocol/ans104/index.ts';
import type { DataItem, DataItemSigner, Tag } from '../../protocol/ans104/types.ts';
import { tagValue } from '../../protocol/ao/index.ts';
import type { EvalResult, OutboxAssignment, OutboxMessage, OutboxSpawn } from '../../protocol/ao/types.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { ClaimedJob, JobContext, NewJob } from './crank-queue.ts';
import type { CuClient, SuClient } from '../unit-clients.ts';

const VARIANT = 'ao.TN.1';

/** An outbox, already checked: only entries the MU can push, with their original indices. */
export type Outbox = {
  messages: { index: number; message: OutboxMessage }[];
  spawns: { index: number; spawn: OutboxSpawn }[];
  assignments: { index: number; assignment: OutboxAssignment }[];
};

export type CrankJob =
  /** Crank the result of one scheduled message (or a process's boot). */
  | { kind: 'result'; processId: string; messageId: string; rootId: string }
  /** Push an outbox already in hand: a cron evaluation's, or a manual re-push. */
  | { kind: 'outbox'; processId: string; sourceId: string; rootId?: string; outbox: Outbox }
  /** Assign an existing message to a process, then crank it there. */
  | { kind: 'assign'; processId: string; messageId: string; rootId?: string };

export const crankKeys = {
  result: (processId: string, messageId: string) => `result:${processId}:${messageId}`,
  cron: (processId: string, cursor: string) => `cron:${processId}:${cursor}`,
  assign: (processId: string, messageId: string) => `assign:${processId}:${messageId}`,
};

export function resultJob(processId: string, messageId: string, rootId: string): NewJob<CrankJob> {
  return { key: crankKeys.result(processId, messageId), payload: { kind: 'result', processId, messageId, rootId } };
}

// ---------------------------------------------------------------------------------------------
// Pure tag rules

/** isTxId as a type guard (its own signature may only say boolean). */
const isId = (value: unknown): value is string => isTxId(value);
const lower = (names: readonly string[]) => new Set(names.map((name) => name.toLowerCase()));
const without = (tags: readonly Tag[], names: Set<string>) => tags.filter((tag) => !names.has(tag.name.toLowerCase()));
const firstValue = (tags: readonly Tag[], name: string) => tags.find((tag) => tag.name.toLowerCase() === name.toLowerCase())?.value;

export type PushContext = {
  /** The process whose outbox this is. */
  fromProcess: string;
  /** Its `Module` tag (from the SU), when known. */
  fromModule: string | undefined;
  /** The message whose crank led here; absent for cron output. */
  pushedFor: string | undefined;
};

const MESSAGE_OWN = lower(['Data-Protocol', 'Type', 'From-Process', 'From-Module', 'Assignments', 'Pushed-For']);

/** Tags of an outbox message as the MU signs it: the process cannot forge From-Process. */
export function pushedMessageTags(tags: readonly Tag[], context: PushContext): Tag[] {
  const out = without(tags, MESSAGE_OWN);
  out.push({ name: 'Data-Protocol', value: 'ao' }, { name: 'Type', value: 'Message' });
  if (firstValue(out, 'Variant') === undefined) out.push({ name: 'Variant', value: VARIANT });
  out.push({ name: 'From-Process', value: context.fromProcess });
  if (context.fromModule !== undefined) out.push({ name: 'From-Module', value: context.fromModule });
  if (context.pushedFor !== undefined) out.push({ name: 'Pushed-For', value: context.pushedFor });
  return out;
}

const SPAWN_OWN = lower(['Data-Protocol', 'Type', 'Variant', 'From-Process', 'Pushed-For']);

/** Tags of the Process item for a spawn; Module and Scheduler default to the parent's and the local SU. */
export function spawnProcessTags(tags: readonly Tag[], context: PushContext & { scheduler: string }): Tag[] {
  const out = without(tags, SPAWN_OWN);
  out.push(
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Type', value: 'Process' },
    { name: 'Variant', value: firstValue(tags, 'Variant') ?? VARIANT },
    { name: 'From-Process', value: context.fromProcess },
  );
  if (firstValue(out, 'From-Module') === undefined && context.fromModule !== undefined) {
    out.push({ name: 'From-Module', value: context.fromModule });
  }
  if (firstValue(out, 'Module') === undefined && context.fromModule !== undefined) {
    out.push({ name: 'Module', value: context.fromModule });
  }
  if (firstValue(out, 'Scheduler') === undefined) out.push({ name: 'Scheduler', value: context.scheduler });
  if (context.pushedFor !== undefined) out.push({ name: 'Pushed-For', value: context.pushedFor });
  return out;
}

const NOTICE_OWN = lower(['Data-Protocol', 'Type', 'Variant', 'From-Process', 'From-Module', 'Pushed-For', 'Action', 'Process', 'Assignments']);

/**
 * The `Spawned` notice to the parent. aos's `Spawn(...).onReply` waits for
 * `{Action='Spawned', From=ao.id, Reference=ref}`, and From is read from From-Process, so the
 * notice says From-Process=<parent> (the parent spawned; the MU only carries the news) and keeps
 * the spawn's Reference. The child's id is in `Process`.
 */
export function spawnedNoticeTags(spawnTags: readonly Tag[], context: PushContext & { childId: string }): Tag[] {
  const out = without(spawnTags, NOTICE_OWN);
  out.push(
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Type', value: 'Message' },
    { name: 'Variant', value: firstValue(spawnTags, 'Variant') ?? VARIANT },
    { name: 'From-Process', value: context.fromProcess },
  );
  if (context.fromModule !== undefined) out.push({ name: 'From-Module', value: context.fromModule });
  if (context.pushedFor !== undefined) out.push({ name: 'Pushed-For', value: context.pushedFor });
  out.push({ name: 'Process', value: context.childId }, { name: 'Action', value: 'Spawned' });
  return out;
}

/** The process ids of an outbox message's `Assignments` tag (a JSON array), valid ones only. */
export function assignmentsTag(tags: readonly Tag[]): string[] {
  const value = firstValue(tags, 'Assignments');
  if (value === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) ? parsed.filter(isId) : [];
  } catch {
    return [];
  }
}

/** The entry's own anchor when it is a valid one (32 bytes), else one derived from where it came from. */
export function anchorFor(anchor: unknown, seed: string): string {
  if (typeof anchor === 'string' && Buffer.byteLength(anchor, 'utf8') === 32) return anchor;
  return toB64Url(createHash('sha256').update(seed).digest()).slice(0, 32);
}

/**
 * Item data: strings exactly as the process wrote them (empty data is a valid item: aoconnect's
 * `" "` for "no data" is a client habit, and would change what the recipient reads), other
 * values as JSON, none as empty.
 */
export function dataFor(data: unknown): string {
  if (data === undefined || data === null) return '';
  return typeof data === 'string' ? data : JSON.stringify(data);
}

function cleanTags(value: unknown): Tag[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const tags: Tag[] = [];
  for (const tag of value) {
    if (typeof tag !== 'object' || tag === null) return undefined;
    const { name, value: tagValue } = tag as { name?: unknown; value?: unknown };
    if (typeof name !== 'string' || name === '' || tagValue === undefined || tagValue === null) return undefined;
    tags.push({ name, value: typeof tagValue === 'string' ? tagValue : JSON.stringify(tagValue) });
  }
  return tags;
}

/** Keeps the outbox entries the MU can push; `skipped` says why others were left. */
export function readOutbox(result: Partial<EvalResult>): { outbox: Outbox; skipped: string[] } {
  const outbox: Outbox = { messages: [], spawns: [], assignments: [] };
  const skipped: string[] = [];
  const list = (value: unknown) => (Array.isArray(value) ? (value as unknown[]) : []);
  list(result.Messages).forEach((entry, index) => {
    const message = entry as Partial<OutboxMessage> | null;
    const tags = cleanTags(message?.Tags);
    const target = message?.Target;
    if (!message || !isId(target) || !tags) skipped.push(`Messages[${index}]: needs a 43-char Target and Tags`);
    else outbox.messages.push({ index, message: { ...message, Target: target, Tags: tags } });
  });
  list(result.Spawns).forEach((entry, index) => {
    const spawn = entry as Partial<OutboxSpawn> | null;
    const tags = cleanTags(spawn?.Tags);
    if (!spawn || !tags) skipped.push(`Spawns[${index}]: needs Tags`);
    else outbox.spawns.push({ index, spawn: { ...spawn, Tags: tags } });
  });
  list(result.Assignments).forEach((entry, index) => {
    const assignment = entry as Partial<OutboxAssignment> | null;
    const processes = Array.isArray(assignment?.Processes) ? assignment.Processes.filter(isId) : [];
    const message = assignment?.Message;
    if (!isId(message) || processes.length === 0) skipped.push(`Assignments[${index}]: needs a Message id and Processes`);
    else outbox.assignments.push({ index, assignment: { Processes: processes, Message: message } });
  });
  return { outbox, skipped };
}

export function outboxSize(outbox: Outbox): number {
  return outbox.messages.length + outbox.spawns.length + outbox.assignments.length;
}

// ---------------------------------------------------------------------------------------------
// The use-case

export type CrankDeps = {
  su: SuClient;
  cu: CuClient;
  signer: DataItemSigner;
  log: Logger;
  /** A process the MU created (a spawn): lets the service start cron monitoring for it. */
  onProcessCreated?(processId: string, tags: readonly Tag[]): void;
  /** Counts pushed items for metrics. */
  onPushed?(kind: 'message' | 'spawn' | 'assignment'): void;
};

export function createCrank(deps: CrankDeps) {
  const { su, cu, log } = deps;
  const modules = new Map<string, string | undefined>();
  let localScheduler: string | undefined;

  const moduleOf = async (processId: string, signal: AbortSignal) => {
    if (modules.has(processId)) return modules.get(processId);
    const process = await su.process(processId, signal);
    const module = tagValue(process.tags, 'Module') ?? undefined;
    modules.set(processId, module);
    return module;
  };

  const scheduler = async (signal: AbortSignal) => (localScheduler ??= (await su.info(signal)).address);

  /** Schedules an item; an SU that refuses it because it already has it counts as success. */
  const schedule = async (item: DataItem, processId: string, signal: AbortSignal) => {
    try {
      await su.postItem(item.raw, signal);
    } catch (error) {
      const refused = error instanceof InvalidInputError || error instanceof ConflictError || error instanceof NotFoundError;
      if (!refused || !(await su.hasMessage(item.id, processId, signal))) throw error;
      log.debug({ id: item.id, processId }, 'item was already scheduled');
    }
  };

  const pushMessage = async (message: OutboxMessage, index: number, source: PushSource, signal: AbortSignal) => {
    const context = { fromProcess: source.processId, fromModule: await moduleOf(source.processId, signal), pushedFor: source.rootId };
    const item = await createDataItem({
      signer: deps.signer,
      target: message.Target,
      anchor: anchorFor(message.Anchor, `${source.processId}:${source.sourceId}:message:${index}`),
      tags: pushedMessageTags(message.Tags, context),
      data: dataFor(message.Data),
    });
    await schedule(item, message.Target, signal);
    deps.onPushed?.('message');
    const followUps: NewJob<CrankJob>[] = [resultJob(message.Target, item.id, source.rootId ?? item.id)];
    for (const processId of assignmentsTag(message.Tags)) {
      followUps.push(assignJob(processId, item.id, source.rootId));
    }
    return followUps;
  };

  const pushSpawn = async (spawn: OutboxSpawn, index: number, source: PushSource, signal: AbortSignal) => {
    const parent = source.processId;
    const context = { fromProcess: parent, fromModule: await moduleOf(parent, signal), pushedFor: source.rootId };
    const tags = spawnProcessTags(spawn.Tags, { ...context, scheduler: await scheduler(signal) });
    const child = await createDataItem({
      signer: deps.signer,
      anchor: anchorFor(spawn.Anchor, `${parent}:${source.sourceId}:spawn:${index}`),
      tags,
      data: dataFor(spawn.Data),
    });
    await schedule(child, child.id, signal);
    deps.onPushed?.('spawn');
    deps.onProcessCreated?.(child.id, tags);
    const notice = await createDataItem({
      signer: deps.signer,
      target: parent,
      anchor: child.id.slice(0, 32),
      tags: spawnedNoticeTags(spawn.Tags, { ...context, childId: child.id }),
      data: '',
    });
    await schedule(notice, parent, signal);
    return [resultJob(child.id, child.id, source.rootId ?? child.id), resultJob(parent, notice.id, source.rootId ?? notice.id)];
  };

  /** Pushes an outbox from step `from` on, recording each finished step durably. */
  const pushOutbox = async (outbox: Outbox, source: PushSource, from: number, context: JobContext<CrankJob>) => {
    const steps: ((signal: AbortSignal) => Promise<NewJob<CrankJob>[]>)[] = [
      ...outbox.messages.map(({ index, message }) => (signal: AbortSignal) => pushMessage(message, index, source, signal)),
      ...outbox.spawns.map(({ index, spawn }) => (signal: AbortSignal) => pushSpawn(spawn, index, source, signal)),
      // Assignments are their own jobs: each retries (and is de-duplicated) on its own.
      ...outbox.assignments.map(({ assignment }) => async () =>
        assignment.Processes.map((processId) => assignJob(processId, assignment.Message, source.rootId)),
      ),
    ];
    for (let step = from; step < steps.length; step++) {
      context.advance(step + 1, await steps[step]!(context.signal));
    }
  };

  return {
    /** Runs one queued crank job; resolves with the jobs it leads to. */
    async handle(job: ClaimedJob<CrankJob>, context: JobContext<CrankJob>): Promise<NewJob<CrankJob>[]> {
      const payload = job.payload;
      if (payload.kind === 'assign') {
        const { processId, messageId } = payload;
        // A retried assignment may have landed before the crash: the SU would add a second one.
        if (job.attempts === 1 || !(await su.hasMessage(messageId, processId, context.signal))) {
          await su.assign({ processId, messageId }, context.signal);
          deps.onPushed?.('assignment');
        }
        return [resultJob(processId, messageId, payload.rootId ?? messageId)];
      }
      if (payload.kind === 'outbox') {
        await pushOutbox(payload.outbox, payload, job.progress, context);
        return [];
      }
      const result = await cu.result(payload.messageId, payload.processId, context.signal);
      if (result.Error !== undefined && result.Error !== null && result.Error !== '') {
        log.debug({ processId: payload.processId, messageId: payload.messageId }, 'result has an Error: nothing to push');
        return [];
      }
      const { outbox, skipped } = readOutbox(result);
      if (skipped.length > 0) log.warn({ processId: payload.processId, messageId: payload.messageId, skipped }, 'outbox entries skipped');
      const source = { processId: payload.processId, sourceId: payload.messageId, rootId: payload.rootId };
      await pushOutbox(outbox, source, job.progress, context);
      return [];
    },
  };
}

type PushSource = { processId: string; sourceId: string; rootId?: string | undefined };

export type Crank = ReturnType<typeof createCrank>;

function assignJob(processId: string, messageId: string, rootId: string | undefined): NewJob<CrankJob> {
  const payload: CrankJob = rootId === undefined ? { kind: 'assign', processId, messageId } : { kind: 'assign', processId, messageId, rootId };
  return { key: crankKeys.assign(processId, messageId), payload };
}

/** Errors a retry cannot fix: the SU refused our item (and does not have it), or bad input. */
export function isPermanentCrankError(error: unknown): boolean {
  return error instanceof InvalidInputError || error instanceof ConflictError;
}
