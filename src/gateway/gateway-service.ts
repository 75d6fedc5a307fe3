import { join } from 'node:path';
import { declaresBundle, ownerAddress, parseDataItem, toB64Url, verifyDataItemAsync } from '../protocol/ans104/index.ts';
import type { DataItem, Tag } from '../protocol/ans104/types.ts';
import { InvalidInputError, NotFoundError, UpstreamError, errorMessage } from '../protocol/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { BundleStorage } from './bundle-storage.ts';
import { createBundler } from './bundler.ts';
import type { ChainBlockSource } from './chain-blocks.ts';
import { sqliteGatewayStore } from './gateway-store.ts';
import type { BlockInfo, ItemRow, NestedPlacement, NewItem } from './gateway-store.ts';
import { createGraphql } from './graphql-schema.ts';
import type { GraphqlResponse } from './graphql-schema.ts';
import { verifyNestedBundle } from './nested-bundle.ts';
import { contentType } from './store-writes.ts';

export type GatewayServiceOptions = {
  dataDir: string;
  /** Largest raw item accepted (default 10 MiB, as the SU's body limit). */
  maxItemBytes?: number;
  /** How often pending items are packed into a bundle (default 1000 ms). */
  bundleIntervalMs?: number;
  /** A bundle is cut early once this many bytes wait (default 32 MiB). */
  bundleMaxBytes?: number;
  /** How long one `blockInfo()` answer stamps new items before it is asked again (default 500 ms). */
  blockInfoTtlMs?: number;
};

export const defaultGatewayServiceOptions = {
  maxItemBytes: 10 * 1024 * 1024,
  bundleIntervalMs: 1000,
  bundleMaxBytes: 32 * 1024 * 1024,
  blockInfoTtlMs: 500,
} as const;

export type GatewayServiceDeps = {
  storage: BundleStorage;
  /** The chain's latest block; new items are stamped with it. */
  blockInfo: () => Promise<BlockInfo>;
  /** The chain's blocks, for GraphQL `blocks`; without it only stamped blocks are listed. */
  chainBlocks?: ChainBlockSource;
  log: Logger;
  now?: () => number;
};

/** `nested`: for a nested bundle, how many items it held (each indexed as well). */
export type IngestResult = { id: string; duplicate: boolean; nested?: number };

export type ItemMeta = {
  id: string;
  signatureType: number;
  signature: string;
  owner: { address: string; key: string };
  recipient: string;
  anchor: string;
  tags: Tag[];
  data: { size: number; type: string | null };
  block: { id: string; height: number; timestamp: number };
  /** Where its bytes are in a stored bundle; null while they wait for the bundler. */
  bundle: { id: string; root: string; offset: number; size: number } | null;
  /** The item whose nested bundle held this one, if any. */
  parent: string | null;
};

export type GatewayInfo = {
  network: 'levity';
  height: number;
  current: string;
  blocks: number;
  peers: 0;
  items: number;
  pendingItems: number;
  bundles: number;
};

type Queued = { item: NewItem; resolve: (fresh: boolean) => void; reject: (error: unknown) => void };

/**
 * Accepts signed ANS-104 items, indexes them durably, serves their bytes and answers GraphQL.
 * Concurrent ingests share one commit (one fsync), so throughput grows with concurrency while
 * every acknowledgement still follows its own durable commit.
 */
export function createGatewayService(options: GatewayServiceOptions, deps: GatewayServiceDeps) {
  const settings = { ...defaultGatewayServiceOptions, ...definedOnly(options) };
  const log = deps.log;
  const now = deps.now ?? Date.now;
  const store = sqliteGatewayStore(join(options.dataDir, 'index.sqlite'));
  const bundler = createBundler(
    { dir: join(options.dataDir, 'bundles'), intervalMs: settings.bundleIntervalMs, maxBytes: settings.bundleMaxBytes },
    { store, storage: deps.storage, log, now },
  );
  const graphql = createGraphql(store, log, { chainBlocks: deps.chainBlocks });

  let queue: Queued[] = [];
  let committing: Promise<void> | undefined;
  let closed = false;
  let block: { value: BlockInfo; at: number } | undefined;
  let blockRequest: Promise<BlockInfo> | undefined;

  /** The latest block, asked of the chain at most once per TTL; the last known one if the chain is down. */
  const currentBlock = (): Promise<BlockInfo> => {
    if (block && now() - block.at < settings.blockInfoTtlMs) return Promise.resolve(block.value);
    blockRequest ??= deps
      .blockInfo()
      .then((value) => {
        block = { value, at: now() };
        return value;
      })
      .catch((error: unknown) => {
        const known = block?.value ?? store.latestBlock();
        if (!known) throw new UpstreamError('GATEWAY_CHAIN_UNAVAILABLE', 'cannot read the latest block', { details: errorMessage(error), cause: error });
        log.warn({ err: error, height: known.height }, 'blockInfo failed; stamping with the last known block');
        block = { value: known, at: now() }; // a down chain is asked again after the TTL, not per item
        return known;
      })
      .finally(() => (blockRequest = undefined));
    return blockRequest;
  };

  /**
   * Group commit: whatever arrives while one batch is being synced to disk goes into the next,
   * so each fsync covers as many acknowledgements as there are requests in flight.
   */
  const commit = async () => {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        const fresh = await store.addItems(batch.map((entry) => entry.item));
        bundler.added(batch.reduce((sum, entry, index) => sum + (fresh[index] ? entry.item.raw.length : 0), 0));
        batch.forEach((entry, index) => entry.resolve(fresh[index] === true));
      } catch (error) {
        for (const entry of batch) entry.reject(error);
      }
    }
    committing = undefined;
  };
  const enqueue = (item: NewItem): Promise<boolean> =>
    new Promise((resolve, reject) => {
      if (closed) return reject(new UpstreamError('GATEWAY_CLOSED', 'the gateway is shutting down'));
      queue.push({ item, resolve, reject });
      // The first batch waits one turn of the event loop so requests read together commit together.
      committing ??= new Promise((wait) => setImmediate(wait)).then(commit);
    });

  /**
   * Parses and verifies one item. The signature check runs on libuv's thread pool, so while one
   * request's signature is checked the event loop reads and hashes the next: on two cores
   * that keeps both busy.
   */
  const check = async (raw: Uint8Array): Promise<DataItem> => {
    if (closed) throw new UpstreamError('GATEWAY_CLOSED', 'the gateway is shutting down');
    if (!(raw instanceof Uint8Array)) throw new InvalidInputError('ANS104_MALFORMED', 'a data item must be bytes');
    if (raw.length > settings.maxItemBytes) throw tooLarge(raw.length, settings.maxItemBytes);
    const item = parseDataItem(raw);
    if (!(await verifyDataItemAsync(item))) {
      throw new InvalidInputError('GATEWAY_BAD_SIGNATURE', `data item ${item.id} has an invalid signature`, {
        meta: { id: item.id, signatureType: item.signatureType },
      });
    }
    return item;
  };

  // Fields are copied into buffers of their own: views into the request body would drag the
  // whole body buffer along when the item is handed to the writer thread.
  const toNewItem = (item: DataItem, stamp: BlockInfo, nested?: NestedPlacement[]): NewItem => ({
    id: item.id,
    signatureType: item.signatureType,
    signature: item.signature.slice(),
    ownerAddress: ownerAddress(item.signatureType, item.owner),
    ownerKey: item.owner.slice(),
    recipient: item.target ? toB64Url(item.target) : undefined,
    anchor: item.anchor?.slice(),
    tags: item.tags,
    dataType: contentType(item.tags),
    dataSize: item.data.length,
    dataOffset: item.raw.length - item.data.length,
    raw: item.raw.slice(),
    block: stamp,
    ...(nested ? { nested } : {}),
  });

  const rowOf = (id: string): ItemRow => {
    const row = typeof id === 'string' ? store.itemById(id) : undefined;
    if (!row) throw new NotFoundError('GATEWAY_ITEM_NOT_FOUND', `no data item ${String(id).slice(0, 64)} on this gateway`, { meta: { id } });
    return row;
  };

  const readRaw = async (row: ItemRow): Promise<Uint8Array> => {
    let raw: Uint8Array | undefined;
    if (row.parentRef !== null) {
      raw = await readNested(row);
    } else if (row.bundleRef === null) {
      raw = store.pendingRaw(row.seq);
      // Bundled since the row was read: read it again from where it went.
      if (!raw) return readRaw(rowOf(row.id));
    } else {
      const bundle = store.bundle(row.bundleRef);
      if (!bundle || row.bundleOffset === null) throw new UpstreamError('GATEWAY_INDEX_CORRUPT', `item ${row.id} points at an unknown bundle`);
      raw = await bundler.read(bundle.root, row.bundleOffset, row.rawSize);
    }
    // The signature sits right after the 2-byte type: a cheap proof the offsets still line up.
    const signature = raw.subarray(2, 2 + row.signature.length);
    if (!Buffer.from(signature).equals(row.signature)) {
      throw new UpstreamError('GATEWAY_BUNDLE_CORRUPT', `the stored bytes of item ${row.id} do not match its index entry`, { meta: { id: row.id } });
    }
    return raw;
  };

  /** A nested item's bytes: a slice of its parent's, wherever those are now. */
  const readNested = async (row: ItemRow, retried = false): Promise<Uint8Array> => {
    const parent = store.itemBySeq(row.parentRef!);
    if (!parent || row.parentOffset === null) throw new UpstreamError('GATEWAY_INDEX_CORRUPT', `item ${row.id} points at an unknown parent item`);
    if (parent.bundleRef === null) {
      const raw = store.pendingSlice(parent.seq, row.parentOffset, row.rawSize);
      if (raw) return raw;
      // The parent was bundled between the two reads; once more, it must be there.
      if (!retried) return readNested(row, true);
      throw new UpstreamError('GATEWAY_INDEX_CORRUPT', `item ${parent.id} is neither pending nor in a bundle`);
    }
    const bundle = store.bundle(parent.bundleRef);
    if (!bundle || parent.bundleOffset === null) throw new UpstreamError('GATEWAY_INDEX_CORRUPT', `item ${parent.id} points at an unknown bundle`);
    return bundler.read(bundle.root, parent.bundleOffset + row.parentOffset, row.rawSize);
  };

  /** Where an item's bytes sit in a stored bundle, if they are in one yet (nested items: inside their parent's). */
  const placement = (row: ItemRow): ItemMeta['bundle'] => {
    const holder = row.parentRef === null ? row : store.itemBySeq(row.parentRef);
    if (!holder || holder.bundleRef === null || holder.bundleOffset === null) return null;
    const bundle = store.bundle(holder.bundleRef);
    if (!bundle) return null;
    return { id: bundle.id, root: bundle.root, offset: holder.bundleOffset + (row.parentOffset ?? 0), size: row.rawSize };
  };

  return {
    /**
     * Verifies and stores one signed item; a known id is acknowledged again as a duplicate. An
     * item tagged as a nested ANS-104 bundle has every item inside verified too, and all are
     * indexed with it in one commit, or none is (see `verifyNestedBundle`).
     */
    async ingest(raw: Uint8Array): Promise<IngestResult> {
      const item = await check(raw);
      if (store.itemById(item.id)) return { id: item.id, duplicate: true };
      const nested = declaresBundle(item.tags) ? await verifyNestedBundle(item) : undefined;
      const stamp = await currentBlock();
      const fresh = await enqueue(toNewItem(item, stamp, nested));
      return nested ? { id: item.id, duplicate: !fresh, nested: nested.length } : { id: item.id, duplicate: !fresh };
    },
    /** All or nothing: every item is checked before any is stored, then all share one commit. */
    async ingestMany(raws: readonly Uint8Array[]): Promise<IngestResult[]> {
      const numbered = async <T>(index: number, work: () => T | Promise<T>): Promise<T> => {
        try {
          return await work();
        } catch (error) {
          if (error instanceof InvalidInputError) {
            throw new InvalidInputError(error.code, `item ${index}: ${error.shortMessage}`, { meta: { ...error.meta, index }, cause: error });
          }
          throw error;
        }
      };
      const items: { item: DataItem; nested: NestedPlacement[] | undefined }[] = [];
      for (const [index, raw] of raws.entries()) {
        const item = await numbered(index, () => check(raw));
        const nested = declaresBundle(item.tags) ? await numbered(index, () => verifyNestedBundle(item)) : undefined;
        items.push({ item, nested });
      }
      const stamp = await currentBlock();
      const fresh = await Promise.all(items.map(({ item, nested }) => enqueue(toNewItem(item, stamp, nested))));
      return items.map(({ item, nested }, index) => ({ id: item.id, duplicate: !fresh[index], ...(nested ? { nested: nested.length } : {}) }));
    },
    /** The exact signed bytes of an item. */
    async rawItem(id: string): Promise<Uint8Array> {
      return readRaw(rowOf(id));
    },
    /** The item's data, and its Content-Type tag. */
    async itemData(id: string): Promise<{ data: Uint8Array; contentType: string | undefined }> {
      const row = rowOf(id);
      const raw = await readRaw(row);
      return { data: raw.subarray(row.dataOffset, row.dataOffset + row.dataSize), contentType: row.dataType ?? undefined };
    },
    itemMeta(id: string): ItemMeta {
      const row = rowOf(id);
      const owner = store.owner(row.ownerRef);
      const blockRow = store.block(row.height);
      const parent = row.parentRef === null ? undefined : store.itemBySeq(row.parentRef);
      return {
        id: row.id,
        signatureType: row.signatureType,
        signature: toB64Url(row.signature),
        owner: { address: owner.address, key: toB64Url(owner.key) },
        recipient: row.recipient ?? '',
        anchor: row.anchor ? toB64Url(row.anchor) : '',
        tags: store.tagsOf(row.seq),
        data: { size: row.dataSize, type: row.dataType },
        block: { id: blockRow?.id ?? '', height: row.height, timestamp: row.timestamp },
        bundle: placement(row),
        parent: parent?.id ?? null,
      };
    },
    graphql(query: unknown, variables?: unknown, operationName?: unknown): Promise<GraphqlResponse> {
      return graphql.run(query, variables, operationName);
    },
    /** `graphql` as the JSON text HTTP sends; `hasData` false means a request error (400). */
    graphqlJson(query: unknown, variables?: unknown, operationName?: unknown): Promise<{ json: string; hasData: boolean }> {
      return graphql.runJson(query, variables, operationName);
    },
    async info(): Promise<GatewayInfo> {
      const latest = await currentBlock().catch(() => store.latestBlock());
      const counts = store.counts();
      return {
        network: 'levity',
        height: latest?.height ?? 0,
        current: latest?.id ?? '',
        blocks: counts.blocks,
        peers: 0,
        items: counts.items,
        pendingItems: store.pendingStats().items,
        bundles: counts.bundles,
      };
    },
    stats(): { items: number; pendingItems: number; pendingBytes: number; bundles: number } {
      const counts = store.counts();
      const pending = store.pendingStats();
      return { items: counts.items, pendingItems: pending.items, pendingBytes: pending.bytes, bundles: counts.bundles };
    },
    /** Bundles and stores everything pending now. */
    flush(): Promise<void> {
      return bundler.flush();
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await committing; // whatever was queued will be acknowledged, so it must land first
      await bundler.stop();
      await store.close();
    },
  };
}

export type GatewayService = ReturnType<typeof createGatewayService>;

export function tooLarge(size: number, limit: number): InvalidInputError {
  return new InvalidInputError('GATEWAY_TOO_LARGE', `the data item is ${size} bytes; this gateway takes at most ${limit}`, {
    meta: { size, limit },
  });
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}
