/** Turns stored slots into the SU's JSON shapes (spec ao.md §3.2). */
import { ownerAddress, parseDataItem, toB64Url } from '../../protocol/ans104/index.ts';
import type { DataItem } from '../../protocol/ans104/types.ts';
import type { SuAssignmentInner, SuMessage, SuMessageInner, SuOwner, SuPaginatedMessages, SuProcess } from '../../protocol/ao/types.ts';
import type { StoredProcess, StoredSlot } from './su-store.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextDecoder();

function owner(item: DataItem): SuOwner {
  return { address: ownerAddress(item.signatureType, item.owner), key: toB64Url(item.owner) };
}

/** UTF-8 text when the bytes are UTF-8; otherwise base64url, flagged, so nothing is mangled. */
function dataField(bytes: Uint8Array): { data: string; data_encoding?: 'base64url' } {
  try {
    return { data: strictUtf8.decode(bytes) };
  } catch {
    return { data: toB64Url(bytes), data_encoding: 'base64url' };
  }
}

function anchorField(anchor: Uint8Array | undefined, showAnchor: boolean): string | null {
  if (!anchor) return null;
  return showAnchor ? toB64Url(anchor) : utf8.decode(anchor);
}

export function messageInner(item: DataItem, showAnchor = false): SuMessageInner {
  return {
    id: item.id,
    owner: owner(item),
    ...dataField(item.data),
    tags: item.tags,
    signature: toB64Url(item.signature),
    anchor: anchorField(item.anchor, showAnchor),
    target: item.target ? toB64Url(item.target) : null,
  };
}

function assignmentInner(item: DataItem, processId: string): SuAssignmentInner {
  return {
    id: item.id,
    owner: owner(item),
    tags: item.tags,
    signature: toB64Url(item.signature),
    anchor: item.anchor ? utf8.decode(item.anchor) : null,
    target: processId,
  };
}

export function suMessage(slot: StoredSlot, showAnchor = false): SuMessage {
  return {
    message: slot.messageRaw ? messageInner(parseDataItem(slot.messageRaw), showAnchor) : null,
    assignment: assignmentInner(parseDataItem(slot.assignmentRaw), slot.processId),
  };
}

export function suPage(slots: StoredSlot[], limit: number, cursor: (slot: StoredSlot) => string, showAnchor = false): SuPaginatedMessages {
  const page = slots.slice(0, limit);
  return {
    page_info: { has_next_page: slots.length > limit },
    edges: page.map((slot) => ({ node: suMessage(slot, showAnchor), cursor: cursor(slot) })),
  };
}

export function suProcess(process: StoredProcess): SuProcess {
  const item = parseDataItem(process.raw);
  let data: string | null;
  try {
    data = strictUtf8.decode(item.data);
  } catch {
    data = null;
  }
  return {
    process_id: item.id,
    block: String(process.blockHeight),
    owner: owner(item),
    tags: item.tags,
    timestamp: process.timestamp,
    data,
    anchor: item.anchor ? utf8.decode(item.anchor) : null,
    signature: toB64Url(item.signature),
    target: item.target ? toB64Url(item.target) : null,
  };
}
