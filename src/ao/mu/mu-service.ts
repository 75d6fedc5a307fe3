/**
 * The MU's use-cases (spec ao.md §3.1, §5): accept signed items and hand them to the SU, queue
 * their cranks, take assignments, and manage cron monitoring. Everything accepted is scheduled on
 * the SU and its crank is on disk before the caller hears "Processing DataItem".
 */
import { dataItemTarget, isTxId, parseDataItem, verifyDataItem } from '../../protocol/ans104/index.ts';
import type { DataItem, Tag } from '../../protocol/ans104/types.ts';
import { checkMuItem } from '../../protocol/ao/index.ts';
import { ConflictError, InvalidInputError, LevityError, NotFoundError } from '../../protocol/errors.ts';
import type { Logger } from '../../shared/log.ts';
import type { CrankQueue, NewJob } from './crank-queue.ts';
import { readOutbox, resultJob } from './crank.ts';
import type { CrankJob } from './crank.ts';
import type { Monitor } from './monitor.ts';
import type { CuClient, SuClient } from '../unit-clients.ts';

export type MuServiceOptions = {
  /**
   * Monitor every process that has a `Cron-Interval` tag from the moment it is spawned, so cron
   * output is pushed without a `monitor` call (permaweb/ao#554). On by default.
   */
  autoMonitorCron?: boolean;
};

export type MuServiceDeps = {
  su: SuClient;
  cu: CuClient;
  queue: CrankQueue<CrankJob>;
  monitor: Monitor;
  /** Wakes the crank workers after jobs were queued. */
  wake(): void;
  log: Logger;
  onDelivered?(type: 'Process' | 'Message'): void;
};

export type AssignParameters = { baseLayer?: boolean; exclude?: readonly string[] };

export type Accepted = { message: 'Processing DataItem'; id: string };
export type AcceptedAssignment = { message: 'Processing Assignment'; id: string };

export function createMuService(options: MuServiceOptions, deps: MuServiceDeps) {
  const { su, cu, queue, monitor, log } = deps;
  const autoMonitorCron = options.autoMonitorCron ?? true;

  const enqueue = (...jobs: NewJob<CrankJob>[]) => {
    if (queue.push(...jobs) > 0) deps.wake();
  };

  const signedItem = async (raw: Uint8Array): Promise<DataItem> => {
    if (raw.byteLength === 0) throw new InvalidInputError('MU_EMPTY_BODY', 'expected a signed ANS-104 data item as the body');
    let item: DataItem;
    let valid: boolean;
    try {
      item = parseDataItem(raw);
      valid = await verifyDataItem(item);
    } catch (error) {
      if (error instanceof LevityError) throw error;
      // Garbage must never become a 500, whatever the parser tripped on.
      throw new InvalidInputError('ANS104_MALFORMED', 'Malformed ANS-104 data item', { cause: error });
    }
    if (!valid) {
      throw new InvalidInputError('MU_SIGNATURE_INVALID', 'the data item signature does not verify', {
        meta: { id: item.id, signatureType: item.signatureType },
      });
    }
    return item;
  };

  const requireId = (value: string, what: string) => {
    if (!isTxId(value)) {
      throw new InvalidInputError('MU_BAD_ID', `${what} must be a 43-character base64url id`, { meta: { [what]: value.slice(0, 64) } });
    }
  };

  const maybeMonitorCron = (processId: string, tags: readonly Tag[]) => {
    if (!autoMonitorCron || !tags.some((tag) => tag.name.toLowerCase() === 'cron-interval')) return;
    if (monitor.add(processId)) log.info({ processId }, 'monitoring cron process');
  };

  /** Hands an item to the SU. A refusal of an item the SU already holds is a client's retry: accepted. */
  const schedule = async (item: DataItem, processId: string, type: 'Process' | 'Message') => {
    try {
      await su.postItem(item.raw);
      return;
    } catch (error) {
      const refused = error instanceof InvalidInputError || error instanceof ConflictError || error instanceof NotFoundError;
      if (!refused) throw error;
      if (await su.hasMessage(item.id, processId)) return;
      if (type === 'Message') {
        // The SU may word an unknown process as a plain refusal; callers deserve a 404 for it.
        const known =
          !(error instanceof NotFoundError) &&
          (await su.process(processId).then(
            () => true,
            (lookup: unknown) => !(lookup instanceof NotFoundError),
          ));
        if (!known) throw unknownProcess(processId, error);
      }
      throw error;
    }
  };

  return {
    /** `POST /`: verify, check the AO tags, schedule on the SU, queue the crank. */
    async deliver(raw: Uint8Array): Promise<Accepted> {
      const item = await signedItem(raw);
      const type = checkMuItem(item);
      const target = dataItemTarget(item);
      if (type === 'Message' && target === undefined) {
        throw new InvalidInputError('MU_MESSAGE_NO_TARGET', 'a Message needs a target process id', { meta: { id: item.id } });
      }
      const processId = type === 'Process' ? item.id : target!;
      await schedule(item, processId, type);
      enqueue(resultJob(processId, item.id, item.id));
      if (type === 'Process') maybeMonitorCron(processId, item.tags);
      deps.onDelivered?.(type);
      log.debug({ id: item.id, processId, type }, 'item accepted');
      return { message: 'Processing DataItem', id: item.id };
    },

    /** `POST /?process-id=&assign=`: schedule an existing message on a process, then crank it there. */
    async assign(processId: string, messageId: string, parameters: AssignParameters = {}): Promise<AcceptedAssignment> {
      requireId(processId, 'process-id');
      requireId(messageId, 'assign');
      const exclude = parameters.exclude?.filter((name) => name !== '');
      const accepted = await su
        .assign({ processId, messageId, baseLayer: parameters.baseLayer ?? false, ...(exclude ? { exclude } : {}) })
        .catch((error: unknown) => {
          throw error instanceof NotFoundError ? unknownProcess(processId, error) : error;
        });
      enqueue(resultJob(processId, messageId, messageId));
      return { message: 'Processing Assignment', id: accepted.id };
    },

    /** `POST /monitor/:pid`: push this process's cron output from now on. */
    async monitor(raw: Uint8Array, processId: string): Promise<{ id: string; added: boolean }> {
      requireId(processId, 'process id');
      const item = await signedItem(raw);
      const target = dataItemTarget(item);
      if (target !== undefined && target !== processId) {
        throw new InvalidInputError('MU_MONITOR_TARGET_MISMATCH', 'the signed item targets another process', {
          meta: { processId, target },
        });
      }
      await su.process(processId).catch((error: unknown) => {
        throw error instanceof NotFoundError ? unknownProcess(processId, error) : error;
      });
      const added = monitor.add(processId);
      log.info({ processId, added }, 'monitor requested');
      return { id: item.id, added };
    },

    /** `DELETE /monitor/:pid`. */
    async unmonitor(raw: Uint8Array, processId: string): Promise<{ id: string; removed: boolean }> {
      requireId(processId, 'process id');
      const item = await signedItem(raw);
      const removed = monitor.remove(processId);
      log.info({ processId, removed }, 'unmonitor requested');
      return { id: item.id, removed };
    },

    /** `POST /push/:id/:number?process-id=`: push outbox message #number of a result again. */
    async push(messageId: string, number: number, processId: string): Promise<{ message: string; id: string; number: number }> {
      requireId(messageId, 'message id');
      requireId(processId, 'process-id');
      if (!Number.isSafeInteger(number) || number < 0) {
        throw new InvalidInputError('MU_BAD_OUTBOX_NUMBER', 'the outbox message number is a non-negative integer', { meta: { number } });
      }
      const result = await cu.result(messageId, processId);
      const entry = readOutbox(result).outbox.messages.find((message) => message.index === number);
      if (!entry) {
        throw new NotFoundError('MU_OUTBOX_NO_MESSAGE', `the result of ${messageId} has no pushable outbox message #${number}`, {
          meta: { messageId, processId, number, messages: Array.isArray(result.Messages) ? result.Messages.length : 0 },
        });
      }
      // A fresh key: a manual push always runs. The item it builds is the one the crank built
      // (same bytes, same id), so the SU will not schedule it twice.
      enqueue({
        key: `push:${processId}:${messageId}:${number}:${Date.now()}`,
        payload: {
          kind: 'outbox',
          processId,
          sourceId: messageId,
          rootId: messageId,
          outbox: { messages: [entry], spawns: [], assignments: [] },
        },
      });
      return { message: 'Pushing outbox message', id: messageId, number };
    },

    /** A spawn the crank created: monitored when it has a cron. Never fails the crank step. */
    processCreated(processId: string, tags: readonly Tag[]): void {
      try {
        maybeMonitorCron(processId, tags);
      } catch (error) {
        log.warn({ err: error, processId }, 'could not start monitoring a spawned cron process');
      }
    },
  };
}

export type MuService = ReturnType<typeof createMuService>;

function unknownProcess(processId: string, cause: unknown): NotFoundError {
  return new NotFoundError('MU_PROCESS_NOT_FOUND', `process ${processId} is not known to the SU`, { meta: { processId }, cause });
}
