/** JSON shapes exchanged by the MU, SU, CU and their clients (spec ao.md §3). */
import type { Tag } from '../ans104/types.ts';

export type { Tag };

export type SuOwner = { address: string; key: string };

export type SuMessageInner = {
  id: string;
  owner: SuOwner;
  /** UTF-8 text; bytes that are not UTF-8 come as base64url with `data_encoding` set (a Levity extension). */
  data: string | null;
  data_encoding?: 'base64url';
  tags: Tag[];
  signature: string;
  anchor: string | null;
  target: string | null;
};

export type SuAssignmentInner = {
  id: string;
  owner: SuOwner;
  tags: Tag[];
  signature: string;
  anchor: string | null;
  target: string;
};

/** One scheduled entry: the message (null for an assignment of an existing tx) and its assignment. */
export type SuMessage = { message: SuMessageInner | null; assignment: SuAssignmentInner };

export type SuPaginatedMessages = {
  page_info: { has_next_page: boolean };
  edges: { node: SuMessage; cursor: string }[];
};

export type SuProcess = {
  process_id: string;
  block: string;
  owner: SuOwner;
  tags: Tag[];
  timestamp: number;
  data: string | null;
  anchor: string | null;
  signature: string | null;
  target: string | null;
};

/** A message as the process module receives it (spec ao.md §4.4). */
export type AoMessage = {
  Id?: string;
  Signature?: string;
  Owner: string;
  From: string;
  'Forwarded-By'?: string;
  Target: string;
  Anchor?: string;
  Data: string;
  Tags: Tag[];
  Epoch?: number;
  Nonce?: number;
  Timestamp: number;
  'Block-Height': number;
  'Hash-Chain'?: string;
  Cron: boolean;
  /**
   * Only on a process's own message whose On-Boot tag names another item: that item's data, read
   * by the CU from the gateway (immutable, so every CU boots the same code). Absent if no item has
   * that id.
   */
  'On-Boot-Source'?: string;
  'Read-Only'?: boolean;
  Module?: string;
};

export type AoEnv = {
  Process: { Id: string; Owner: string; Tags: Tag[] };
  Module: { Id: string; Owner: string; Tags: Tag[] };
};

/** An outbox message as aos produces it: Target, Anchor, Data and Tags. */
export type OutboxMessage = { Target: string; Anchor?: string; Data?: string; Tags: Tag[] };
export type OutboxSpawn = { Target?: string; Anchor?: string; Data?: string; Tags: Tag[] };
export type OutboxAssignment = { Processes: string[]; Message: string };

/** What the CU answers for one evaluation (never with Memory). */
export type EvalResult = {
  Output: unknown;
  Messages: OutboxMessage[];
  Spawns: OutboxSpawn[];
  Assignments: OutboxAssignment[];
  Error?: string;
  GasUsed?: number;
};
