import { ConflictError, InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import { createDataItem, parseDataItem, toB64Url, verifyDataItem } from '../../protocol/ans104/index.ts';
import type { DataItem, DataItemSigner } from '../../protocol/ans104/types.ts';
import { assignmentTags, checkSuItem, firstHashChain, nextHashChain } from '../../protocol/ao/index.ts';
import type { ProcessTip, StoredSlot, SuStore } from './su-store.ts';

export type SuServiceDeps = {
  store: SuStore;
  signer: DataItemSigner;
  /** The chain height assignments are stamped with. */
  blockHeight: () => Promise<number>;
  /** Wall clock in ms (injected so tests can pin it). */
  now?: () => number;
  /** Looks up a signed item the SU has not scheduled itself (for assignments), e.g. from the gateway. */
  fetchItem?: (id: string) => Promise<Uint8Array | undefined>;
  /** Hands newly scheduled items to the gateway; `urgent` ones are awaited before the SU answers. */
  publish?: (urgent: boolean) => Promise<void>;
};

export type ScheduleResult = { id: string; timestamp: number; nonce: number; assignmentId: string; processId: string };

type Pending = {
  run: () => Promise<StoredSlot[]>;
  resolve: (slots: StoredSlot[]) => void;
  reject: (error: unknown) => void;
};

/**
 * The scheduler's use-cases. Every schedule request becomes a slot with the next nonce of its
 * process, a hash chain link, a timestamp and the chain height, signed by the SU wallet.
 * Concurrent requests are group-committed: one transaction and one fsync per batch, and no
 * caller hears back before its slot is on disk.
 */
export function createSuService(deps: SuServiceDeps) {
  const { store, signer } = deps;
  const now = deps.now ?? Date.now;
  const tips = new Map<string, ProcessTip>();
  let lastTimestamp = 0;
  let lastHeight = 0;
  const queue: Pending[] = [];
  let draining = false;

  /** Strictly increasing across the unit, so a timestamp cursor never skips a slot. */
  function nextTimestamp(): number {
    lastTimestamp = Math.max(now(), lastTimestamp + 1);
    return lastTimestamp;
  }

  function tipOf(processId: string): ProcessTip | undefined {
    let tip = tips.get(processId);
    if (!tip) {
      tip = store.tip(processId);
      if (tip) tips.set(processId, tip);
    }
    return tip;
  }

  /**
   * The height read before a request queued may be older than one `clock()` has handed out
   * since: never stamp below it, or a CU that ticked block crons up to `clock()` would see a
   * later slot fall behind them.
   */
  function stampHeight(read: number): number {
    lastHeight = Math.max(lastHeight, read);
    return lastHeight;
  }

  async function assign(processId: string, messageId: string, messageRaw: Uint8Array | null, readHeight: number, exclude?: string[]) {
    const tip = tipOf(processId);
    const nonce = tip ? tip.nonce + 1 : 0;
    const hashChain = tip ? nextHashChain(tip.assignmentId, tip.hashChain) : firstHashChain(processId);
    // Taken together, with no await between: every later slot is later in both.
    const timestamp = nextTimestamp();
    const height = stampHeight(readHeight);
    const assignment = await createDataItem({
      signer,
      target: processId,
      tags: assignmentTags({ processId, nonce, hashChain, blockHeight: height, timestamp, messageId, exclude }),
      data: '',
    });
    tips.set(processId, { nonce, assignmentId: assignment.id, hashChain, timestamp });
    const slot: StoredSlot = {
      processId,
      nonce,
      timestamp,
      blockHeight: height,
      hashChain,
      messageId,
      assignmentId: assignment.id,
      assignmentRaw: assignment.raw,
      messageRaw,
    };
    return slot;
  }

  function enqueue(run: () => Promise<StoredSlot[]>): Promise<StoredSlot[]> {
    return new Promise((resolve, reject) => {
      queue.push({ run, resolve, reject });
      if (!draining) void drain();
    });
  }

  /** Builds every queued request's slots, then commits them together. */
  async function drain(): Promise<void> {
    draining = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0);
        const built: { pending: Pending; slots: StoredSlot[] }[] = [];
        for (const pending of batch) {
          try {
            built.push({ pending, slots: await pending.run() });
          } catch (error) {
            pending.reject(error);
          }
        }
        try {
          store.transaction(() => {
            for (const { slots } of built) {
              for (const slot of slots) {
                if (slot.nonce === 0) {
                  store.addProcess({ processId: slot.processId, raw: slot.messageRaw!, timestamp: slot.timestamp, blockHeight: slot.blockHeight });
                }
                store.addSlot(slot);
                if (slot.messageRaw && !isForeign(slot)) store.queueForGateway(slot.messageRaw);
                store.queueForGateway(slot.assignmentRaw);
              }
            }
          });
        } catch (error) {
          // Nothing of the batch is on disk: forget the tips it advanced and fail every caller.
          tips.clear();
          for (const { pending } of built) pending.reject(error);
          continue;
        }
        for (const { pending, slots } of built) pending.resolve(slots);
      }
    } finally {
      draining = false;
    }
  }

  /** Items fetched from the gateway for an assignment are already there. */
  const foreign = new WeakSet<Uint8Array>();
  const isForeign = (slot: StoredSlot) => slot.messageRaw !== null && foreign.has(slot.messageRaw);

  function verified(raw: Uint8Array): DataItem {
    const item = parseDataItem(raw);
    if (!verifyDataItem(item)) {
      throw new InvalidInputError('SU_BAD_SIGNATURE', 'the data item signature does not verify', { meta: { id: item.id } });
    }
    return item;
  }

  return {
    /** A fresh timestamp every later slot will exceed. */
    timestamp(): number {
      return nextTimestamp();
    },

    /** The CU's "now" for crons: every later slot has a later timestamp and at least this height. */
    async clock(): Promise<{ timestamp: number; blockHeight: number }> {
      const read = await deps.blockHeight();
      return { blockHeight: stampHeight(read), timestamp: nextTimestamp() };
    },

    /** Schedules a signed Process or Message item: the SU's `POST /`. */
    async schedule(raw: Uint8Array): Promise<ScheduleResult> {
      const item = verified(raw);
      const type = checkSuItem(item);
      const processId = type === 'Process' ? item.id : item.target && toB64Url(item.target);
      if (!processId) throw new InvalidInputError('SU_MISSING_TARGET', 'a Message needs a target process');
      const height = await deps.blockHeight();
      const [slot] = await enqueue(async () => {
        if (store.hasMessage(item.id)) {
          throw new ConflictError('SU_DUPLICATE', `item ${item.id} is already scheduled`, { meta: { id: item.id } });
        }
        if (type === 'Message' && !tipOf(processId)) {
          throw new NotFoundError('SU_PROCESS_NOT_FOUND', `process ${processId} is not scheduled here`, { meta: { processId } });
        }
        return [await assign(processId, item.id, item.raw, height)];
      });
      await deps.publish?.(type === 'Process');
      return { id: item.id, timestamp: slot!.timestamp, nonce: slot!.nonce, assignmentId: slot!.assignmentId, processId };
    },

    /** Assigns an existing item to a process: `POST /?process-id=&assign=`. */
    async assignExisting(processId: string, messageId: string, options: { exclude?: string[] } = {}): Promise<ScheduleResult> {
      if (!tipOf(processId)) {
        throw new NotFoundError('SU_PROCESS_NOT_FOUND', `process ${processId} is not scheduled here`, { meta: { processId } });
      }
      const raw = store.rawItem(messageId) ?? (await deps.fetchItem?.(messageId));
      if (!raw) throw new NotFoundError('SU_MESSAGE_NOT_FOUND', `no item ${messageId} to assign`, { meta: { messageId } });
      if (!store.hasMessage(messageId)) foreign.add(raw);
      const height = await deps.blockHeight();
      const [slot] = await enqueue(async () => [await assign(processId, messageId, raw, height, options.exclude)]);
      await deps.publish?.(false);
      return { id: slot!.assignmentId, timestamp: slot!.timestamp, nonce: slot!.nonce, assignmentId: slot!.assignmentId, processId };
    },

    /** Signs and queues an item of the SU's own (its Scheduler-Location record). */
    async publishOwn(tags: { name: string; value: string }[]): Promise<string> {
      const item = await createDataItem({ signer, tags, data: '' });
      store.transaction(() => store.queueForGateway(item.raw));
      await deps.publish?.(true);
      return item.id;
    },
  };
}

export type SuService = ReturnType<typeof createSuService>;
