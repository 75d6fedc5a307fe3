/** Test fixtures for the gateway: signed items, a settable chain head, temp dirs. Used by tests only. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer, encodeBundle, NESTED_BUNDLE_TAGS } from '../protocol/ans104/index.ts';
import type { DataItem, DataItemSigner, Tag } from '../protocol/ans104/types.ts';
import { createLogger } from '../shared/log.ts';
import type { BlockInfo } from './gateway-store.ts';

export const silentLog = createLogger({ level: 'silent' });

export function tempDir(prefix = 'levity-gateway-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** A deterministic ed25519 signer per small number, so owners are stable across runs. */
export function testSigner(n: number): DataItemSigner {
  return ed25519Signer(new Uint8Array(32).fill(n + 1));
}

export type ItemSpec = { signer?: DataItemSigner; tags?: Tag[]; data?: Uint8Array | string; target?: string; anchor?: string };

export function signedItem(spec: ItemSpec = {}): Promise<DataItem> {
  return createDataItem({ signer: spec.signer ?? testSigner(0), tags: spec.tags, data: spec.data ?? 'x', target: spec.target, anchor: spec.anchor });
}

/** An item carrying `items` as an ANS-104 nested bundle (Bundle-Format: binary, Bundle-Version: 2.0.0). */
export function signedBundle(items: readonly Uint8Array[], spec: Omit<ItemSpec, 'data'> = {}): Promise<DataItem> {
  const tags = [NESTED_BUNDLE_TAGS.format, NESTED_BUNDLE_TAGS.version, ...(spec.tags ?? [])];
  return signedItem({ ...spec, tags, data: encodeBundle(items) });
}

/** A chain head tests move by hand: `set(height)` stamps the next items with that block. */
export function manualChain(start = 1) {
  let height = start;
  const at = (h: number): BlockInfo => ({ height: h, timestamp: 1_700_000_000 + h * 2, id: `block-${h}`, previous: `block-${h - 1}` });
  return {
    blockInfo: async (): Promise<BlockInfo> => at(height),
    set(next: number) {
      height = next;
    },
    at,
  };
}

export const MODULE_TAGS: Tag[] = [
  { name: 'Data-Protocol', value: 'ao' },
  { name: 'Variant', value: 'ao.TN.1' },
  { name: 'Type', value: 'Module' },
  { name: 'Module-Format', value: 'wasm32-unknown-emscripten-metering' },
  { name: 'Input-Encoding', value: 'JSON-1' },
  { name: 'Output-Encoding', value: 'JSON-1' },
  { name: 'Content-Type', value: 'application/wasm' },
];

/** The exact query texts AO clients send (spec ao.md §2, §3.4), comment line and all. */
export const AO_QUERIES = {
  spawnModuleCheck: `
    query GetTransactions ($transactionIds: [ID!]!) {
      transactions(ids: $transactionIds) {
        edges {
          node {
            owner {
              address
            }
            tags {
              name
              value
            }
            block {
              id
              height
              timestamp
            }
          }
        }
      }
    }`,
  processScheduler: `
    query GetTransactions ($transactionIds: [ID!]!) {
      transactions(
        ids: $transactionIds
        tags: [
          { name: "Data-Protocol", values: ["ao"] }
        ]
      ) {
        edges {
          node {
            tags {
              name
              value
            }
          }
        }
      }
    }
  `,
  schedulerLocation: `
    query GetSchedulerLocation ($owner: String!) {
      transactions (
        owners: [$owner]
        tags: [
          { name: "Data-Protocol", values: ["ao"] },
          { name: "Type", values: ["Scheduler-Location"] }
        ]
        # Only need the most recent Scheduler-Location
        sort: HEIGHT_DESC
        first: 1
      ) {
        edges {
          node {
            tags {
              name
              value
            }
          }
        }
      }
    }
  `,
  getProcess: `
        query ($ids: [ID!]!) {
        transactions(
          ids: $ids
        ) {
          pageInfo {
            hasNextPage
          }
          edges {
            cursor
            node {
              id
              anchor
              signature
              recipient
              block {
                timestamp
              }
              owner {
                address
                key
              }
              fee {
                winston
                ar
              }
              quantity {
                winston
                ar
              }
              data {
                size
                type
              }
              tags {
                name
                value
              }
              block {
                id
                timestamp
                height
                previous
              }
              parent {
                id
              }
            }
          }
        }
      }
  `,
  /** A CU-style process load with @skip directives, and its block walk. */
  cuProcesses: `
    query GetProcesses ($processIds: [ID!]!, $skipTags: Boolean!, $skipSignature: Boolean!, $skipAnchor: Boolean!) {
      transactions(ids: $processIds, first: 100) {
        edges {
          node {
            id
            signature @skip(if: $skipSignature)
            anchor @skip(if: $skipAnchor)
            owner { address key }
            tags @skip(if: $skipTags) { name value }
            block { id height timestamp }
          }
        }
      }
    }`,
  cuBlocks: `
    query GetBlocks ($min: Int!, $limit: Int!) {
      blocks(height: { min: $min }, first: $limit, sort: HEIGHT_ASC) {
        pageInfo { hasNextPage }
        edges { node { timestamp height } }
      }
    }`,
} as const;
