import type { DatabaseSync } from 'node:sqlite';
import { ownerAddress, parseDataItem, toB64Url } from '../protocol/ans104/index.ts';
import type { Tag } from '../protocol/ans104/types.ts';
import type { BundlePlacement, BundleRow, NestedPlacement, NewBundle, NewItem } from './gateway-store.ts';
import { inTransaction } from './store-schema.ts';

/**
 * Every write the gateway makes, each one transaction on the writer's own connection. They run
 * in the store's writer thread, so the fsync of one commit never stalls request handling.
 */
export function gatewayWrites(db: DatabaseSync) {
  const insertOwner = db.prepare('INSERT OR IGNORE INTO owners (address, key, sig_type) VALUES (?, ?, ?)');
  const ownerRefOf = db.prepare('SELECT ref FROM owners WHERE address = ?');
  const insertBlock = db.prepare('INSERT OR IGNORE INTO blocks (height, id, timestamp, previous) VALUES (?, ?, ?, ?)');
  const insertItem = db.prepare(`INSERT OR IGNORE INTO items (id, owner, sig_type, signature, recipient, anchor, data_type, data_size,
    data_offset, raw_size, height, timestamp, tags_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertTag = db.prepare('INSERT INTO tags (item, pos, name, value) VALUES (?, ?, ?, ?)');
  const insertTagIndex = db.prepare('INSERT OR IGNORE INTO tag_index (name, value, height, item) VALUES (?, ?, ?, ?)');
  const insertPending = db.prepare('INSERT INTO pending (seq, raw) VALUES (?, ?)');
  const insertBundle = db.prepare('INSERT OR IGNORE INTO bundles (root, id, size, items, created_ms) VALUES (?, ?, ?, ?, ?)');
  const bundleByRoot = db.prepare('SELECT ref, root, id, size, items, created_ms AS createdMs FROM bundles WHERE root = ?');
  const placeItem = db.prepare('UPDATE items SET bundle = ?, bundle_offset = ? WHERE seq = ? AND bundle IS NULL');
  const dropPending = db.prepare('DELETE FROM pending WHERE seq = ?');

  const insertNested = db.prepare(`INSERT OR IGNORE INTO items (id, owner, sig_type, signature, recipient, anchor, data_type, data_size,
    data_offset, raw_size, height, timestamp, tags_json, parent, parent_offset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);

  // Owners and blocks are never changed once written and this is the only writer, so what it
  // has written is remembered: a bundle of one wallet's items looks its owner up once.
  const owners = new Map<string, number>();
  const ownerRef = (address: string, key: Uint8Array, signatureType: number): number => {
    let ref = owners.get(address);
    if (ref === undefined) {
      insertOwner.run(address, key, signatureType);
      ref = (ownerRefOf.get(address) as { ref: number }).ref;
      if (owners.size >= 100_000) owners.clear();
      owners.set(address, ref);
    }
    return ref;
  };
  let lastBlock = -1;
  const recordBlock = (block: NewItem['block']) => {
    if (block.height === lastBlock) return;
    insertBlock.run(block.height, block.id, block.timestamp, block.previous ?? '');
    lastBlock = block.height;
  };
  const indexTags = (seq: number, tags: readonly Tag[], height: number) => {
    for (let pos = 0; pos < tags.length; pos++) {
      const tag = tags[pos]!;
      insertTag.run(seq, pos, tag.name, tag.value);
      insertTagIndex.run(tag.name, tag.value, height, seq);
    }
  };

  /**
   * The items of a nested bundle, parsed again from the (already verified) bytes here rather
   * than shipped over as objects: cheaper than cloning them, and off the event loop. An item
   * this gateway already knows keeps its row.
   */
  const addNested = (parent: number, item: NewItem, placements: readonly NestedPlacement[]) => {
    const { block } = item;
    for (const { offset, size } of placements) {
      const nested = parseDataItem(item.raw.subarray(offset, offset + size));
      const address = ownerAddress(nested.signatureType, nested.owner);
      const inserted = insertNested.run(
        nested.id,
        ownerRef(address, nested.owner, nested.signatureType),
        nested.signatureType,
        nested.signature,
        nested.target ? toB64Url(nested.target) : null,
        nested.anchor ?? null,
        contentType(nested.tags) ?? null,
        nested.data.length,
        size - nested.data.length,
        size,
        block.height,
        block.timestamp,
        tagsJson(nested.tags),
        parent,
        offset,
      );
      if (inserted.changes > 0) indexTags(Number(inserted.lastInsertRowid), nested.tags, block.height);
    }
  };

  const addOne = (item: NewItem): boolean => {
    const { block } = item;
    const inserted = insertItem.run(
      item.id,
      ownerRef(item.ownerAddress, item.ownerKey, item.signatureType),
      item.signatureType,
      item.signature,
      item.recipient ?? null,
      item.anchor ?? null,
      item.dataType ?? null,
      item.dataSize,
      item.dataOffset,
      item.raw.length,
      block.height,
      block.timestamp,
      tagsJson(item.tags),
    );
    if (inserted.changes === 0) return false;
    recordBlock(block);
    const seq = Number(inserted.lastInsertRowid);
    indexTags(seq, item.tags, block.height);
    insertPending.run(seq, item.raw);
    if (item.nested) addNested(seq, item, item.nested);
    return true;
  };

  return {
    /** Indexes a batch and keeps its raw bytes in the pending area; per item, whether it was new. */
    addItems(items: readonly NewItem[]): boolean[] {
      if (items.length === 0) return [];
      try {
        return inTransaction(db, () => items.map(addOne));
      } catch (error) {
        // Rolled back: what the caches learnt in it may not exist.
        owners.clear();
        lastBlock = -1;
        throw error;
      }
    },
    /**
     * Records a stored bundle and where each of its items sits in it, and drops those items from
     * the pending area. A bundle stored twice (a retry after a crash) stays one row.
     */
    addBundle(bundle: NewBundle, placements: readonly BundlePlacement[]): BundleRow {
      return inTransaction(db, () => {
        insertBundle.run(bundle.root, bundle.id, bundle.size, placements.length, bundle.createdMs);
        const row = { ...(bundleByRoot.get(bundle.root) as BundleRow) };
        for (const { seq, offset } of placements) {
          placeItem.run(row.ref, offset, seq);
          dropPending.run(seq);
        }
        return row;
      });
    },
  };
}

export type GatewayWrites = ReturnType<typeof gatewayWrites>;

/** The tags as GraphQL shows them (`[{name, value}]`), stored beside the tag rows. */
function tagsJson(tags: readonly Tag[]): string {
  return JSON.stringify(tags.map(({ name, value }) => ({ name, value })));
}

/** The Content-Type tag (any case), the type `GET /:id` answers with. */
export function contentType(tags: readonly Tag[]): string | undefined {
  return tags.find((tag) => tag.name.toLowerCase() === 'content-type')?.value;
}

/** Messages between the store and its writer thread. */
export type WriteRequest =
  | { id: number; op: 'addItems'; items: NewItem[] }
  | { id: number; op: 'addBundle'; bundle: NewBundle; placements: BundlePlacement[] }
  | { id: number; op: 'close' };
export type WriteReply = { id: number; result?: unknown; error?: { message: string; code?: string } };
