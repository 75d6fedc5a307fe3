import type { DatabaseSync } from 'node:sqlite';
import type { BundlePlacement, BundleRow, NewBundle, NewItem } from './gateway-store.ts';
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
    data_offset, raw_size, height, timestamp) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const insertTag = db.prepare('INSERT INTO tags (item, pos, name, value) VALUES (?, ?, ?, ?)');
  const insertTagIndex = db.prepare('INSERT OR IGNORE INTO tag_index (name, value, height, item) VALUES (?, ?, ?, ?)');
  const insertPending = db.prepare('INSERT INTO pending (seq, raw) VALUES (?, ?)');
  const insertBundle = db.prepare('INSERT OR IGNORE INTO bundles (root, id, size, items, created_ms) VALUES (?, ?, ?, ?, ?)');
  const bundleByRoot = db.prepare('SELECT ref, root, id, size, items, created_ms AS createdMs FROM bundles WHERE root = ?');
  const placeItem = db.prepare('UPDATE items SET bundle = ?, bundle_offset = ? WHERE seq = ? AND bundle IS NULL');
  const dropPending = db.prepare('DELETE FROM pending WHERE seq = ?');

  const addOne = (item: NewItem): boolean => {
    insertOwner.run(item.ownerAddress, item.ownerKey, item.signatureType);
    const { ref } = ownerRefOf.get(item.ownerAddress) as { ref: number };
    const { block } = item;
    const inserted = insertItem.run(
      item.id,
      ref,
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
    );
    if (inserted.changes === 0) return false;
    insertBlock.run(block.height, block.id, block.timestamp, block.previous ?? '');
    const seq = Number(inserted.lastInsertRowid);
    item.tags.forEach((tag, pos) => {
      insertTag.run(seq, pos, tag.name, tag.value);
      insertTagIndex.run(tag.name, tag.value, block.height, seq);
    });
    insertPending.run(seq, item.raw);
    return true;
  };

  return {
    /** Indexes a batch and keeps its raw bytes in the pending area; per item, whether it was new. */
    addItems(items: readonly NewItem[]): boolean[] {
      if (items.length === 0) return [];
      return inTransaction(db, () => items.map(addOne));
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

/** Messages between the store and its writer thread. */
export type WriteRequest =
  | { id: number; op: 'addItems'; items: NewItem[] }
  | { id: number; op: 'addBundle'; bundle: NewBundle; placements: BundlePlacement[] }
  | { id: number; op: 'close' };
export type WriteReply = { id: number; result?: unknown; error?: { message: string; code?: string } };
