/** An in-memory SU for CU tests: a process record and its slots, paged the way the SU pages them. */
import type { SuMessage, SuPaginatedMessages, SuProcess, Tag } from '../../protocol/ao/types.ts';
import type { SuClient } from '../unit-clients.ts';

export type FakeSlot = { nonce: number; messageId: string; tags: Tag[]; data: string; timestamp: number; height: number };

/** Slot `nonce` of `processId`: the message and an assignment carrying its nonce, height and time. */
export function fakeSuSlot(processId: string, owner: string, slot: FakeSlot): SuMessage {
  return {
    message: { id: slot.messageId, owner: { address: owner, key: 'k' }, data: slot.data, tags: slot.tags, signature: 's', anchor: null, target: processId },
    assignment: {
      id: `ASSIGN${slot.nonce}`.padEnd(43, 'x'),
      owner: { address: owner, key: 'k' },
      tags: [
        { name: 'Process', value: processId },
        { name: 'Epoch', value: '0' },
        { name: 'Nonce', value: String(slot.nonce) },
        { name: 'Hash-Chain', value: 'h' },
        { name: 'Block-Height', value: String(slot.height).padStart(12, '0') },
        { name: 'Timestamp', value: String(slot.timestamp) },
      ],
      signature: 's',
      anchor: null,
      target: processId,
    },
  };
}

const timestampOf = (slot: SuMessage) => Number(slot.assignment.tags.find((tag) => tag.name === 'Timestamp')!.value);

/**
 * An SU client with `process` and the slots in `log`, read at every call so a test may append
 * (as a live SU schedules); `onPage` sees each page's `from`. What the runner never calls rejects.
 */
export function fakeSuClient(process: SuProcess, log: readonly SuMessage[], onPage?: (from: number | undefined) => void): SuClient {
  const unused = () => Promise.reject(new Error('not used by the runner'));
  return {
    url: 'http://su.invalid',
    postItem: unused,
    assign: unused,
    hasMessage: unused,
    info: unused,
    slot: unused,
    timestamp: unused,
    process: async () => process,
    async page(_pid, from, limit): Promise<SuPaginatedMessages> {
      onPage?.(from);
      const later = log.filter((slot) => from === undefined || timestampOf(slot) > from);
      return { page_info: { has_next_page: later.length > limit }, edges: later.slice(0, limit).map((node) => ({ node, cursor: '' })) };
    },
  };
}
