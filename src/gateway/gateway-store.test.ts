import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import type { Tag } from '../protocol/ans104/types.ts';
import { isLevityError } from '../protocol/errors.ts';
import { sqliteGatewayStore } from './gateway-store.ts';
import type { GatewayStore, NewItem } from './gateway-store.ts';
import { decodeCursor, encodeCursor } from './item-query.ts';
import type { ItemQuery, TagFilter } from './item-query.ts';
import { tempDir } from './testing.ts';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url');
const sha = (text: string) => createHash('sha256').update(text).digest();

type Model = { seq: number; id: string; owner: string; recipient: string | undefined; height: number; tags: Tag[] };

const idOf = (n: number) => b64(sha(b64(sha(`sig-${n}`))));

/** A synthetic item: the store trusts the service to have verified it, so no signing is needed. */
function fakeItem(n: number, spec: { owner: number; recipient?: number; height: number; tags: Tag[] }): NewItem {
  const signature = sha(`sig-${n}`);
  return {
    id: idOf(n),
    signatureType: 2,
    signature,
    ownerAddress: b64(sha(`owner-${spec.owner}`)),
    ownerKey: sha(`key-${spec.owner}`),
    recipient: spec.recipient === undefined ? undefined : b64(sha(`proc-${spec.recipient}`)),
    anchor: undefined,
    tags: spec.tags,
    dataType: spec.tags.find((tag) => tag.name === 'Content-Type')?.value,
    dataSize: 3,
    dataOffset: 10,
    raw: new Uint8Array(13).fill(n % 256),
    block: { height: spec.height, timestamp: 1000 + spec.height, id: `b${spec.height}` },
  };
}

describe('sqliteGatewayStore', () => {
  let dir: string;
  let store: GatewayStore;
  const model: Model[] = [];
  const ACTIONS = ['Eval', 'Transfer', 'Info'];

  before(async () => {
    dir = await tempDir();
    store = sqliteGatewayStore(join(dir, 'index.sqlite'));
    // Enough items that common tags pass the planner's probe cap (1000) and rare ones do not.
    const batch: NewItem[] = [];
    for (let n = 0; n < 2600; n++) {
      const tags: Tag[] = [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Type', value: n % 50 === 0 ? 'Process' : 'Message' },
        { name: 'Action', value: ACTIONS[n % 3]! },
      ];
      if (n % 7 === 0) tags.push({ name: 'Action', value: 'Info' }); // repeated name, sometimes the same value twice
      if (n % 400 === 0) tags.push({ name: 'Type', value: 'Scheduler-Location' });
      const spec = { owner: n % 5, recipient: n % 4 === 0 ? undefined : n % 30, height: Math.floor(n / 7), tags };
      const item = fakeItem(n, spec);
      batch.push(item);
      model.push({ seq: n + 1, id: item.id, owner: item.ownerAddress, recipient: item.recipient, height: spec.height, tags });
    }
    assert.deepEqual(new Set(await store.addItems(batch)), new Set([true]));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  const reference = (query: ItemQuery): string[] => {
    const has = (item: Model, filter: TagFilter) =>
      item.tags.some((tag) => tag.name === filter.name && (filter.op === 'NEQ') !== filter.values.includes(tag.value));
    const rows = model.filter(
      (item) =>
        (!query.ids?.length || query.ids.includes(item.id)) &&
        (!query.owners?.length || query.owners.includes(item.owner)) &&
        (!query.recipients?.length || (item.recipient !== undefined && query.recipients.includes(item.recipient))) &&
        (query.minHeight === undefined || item.height >= query.minHeight) &&
        (query.maxHeight === undefined || item.height <= query.maxHeight) &&
        (query.tags ?? []).every((filter) => has(item, filter)),
    );
    const sign = query.sort === 'HEIGHT_ASC' ? 1 : -1;
    rows.sort((a, b) => sign * (a.height - b.height || a.seq - b.seq));
    return rows.map((row) => row.id);
  };

  /** Every page, following cursors, must add up to the reference order exactly. */
  const walk = (query: Omit<ItemQuery, 'after'>): string[] => {
    const out: string[] = [];
    let after: ItemQuery['after'];
    for (let page = 0; page < 10_000; page++) {
      const { rows, hasNextPage } = store.queryItems({ ...query, after });
      out.push(...rows.map((row) => row.id));
      if (!hasNextPage) return out;
      const last = rows.at(-1)!;
      after = decodeCursor(encodeCursor(last));
    }
    throw new Error('paging did not end');
  };

  it('keeps tags in signed order and answers by id', () => {
    const row = store.itemById(model[7]!.id);
    assert.ok(row);
    assert.deepEqual(store.tagsOf(row.seq), model[7]!.tags);
    assert.equal(store.itemById('nope'), undefined);
  });

  it('acknowledges a known id as a duplicate and stores nothing twice', async () => {
    const before = store.counts().items;
    const again = fakeItem(3, { owner: 3, recipient: 3, height: 0, tags: [{ name: 'X', value: 'y' }] });
    assert.deepEqual(await store.addItems([again]), [false]);
    assert.equal(store.counts().items, before);
  });

  const owner = (n: number) => b64(sha(`owner-${n}`));
  const proc = (n: number) => b64(sha(`proc-${n}`));
  const cases: [string, Omit<ItemQuery, 'after' | 'first' | 'sort'>][] = [
    ['no filter', {}],
    ['one common tag (streams)', { tags: [{ name: 'Type', values: ['Message'] }] }],
    ['one rare tag', { tags: [{ name: 'Type', values: ['Scheduler-Location'] }] }],
    ['AND across filters', { tags: [{ name: 'Data-Protocol', values: ['ao'] }, { name: 'Type', values: ['Process'] }] }],
    ['OR within values', { tags: [{ name: 'Action', values: ['Eval', 'Info'] }] }],
    ['OR, rare', { tags: [{ name: 'Type', values: ['Process', 'Scheduler-Location'] }] }],
    ['NEQ', { tags: [{ name: 'Action', values: ['Eval'], op: 'NEQ' }, { name: 'Type', values: ['Process'] }] }],
    ['owners', { owners: [owner(2)] }],
    ['owners + tags', { owners: [owner(0), owner(3)], tags: [{ name: 'Type', values: ['Scheduler-Location'] }] }],
    ['recipients + tags', { recipients: [proc(7)], tags: [{ name: 'Action', values: ['Transfer'] }] }],
    ['recipients, several', { recipients: [proc(1), proc(2)] }],
    ['block range', { minHeight: 10, maxHeight: 40 }],
    ['block range + tag', { minHeight: 100, tags: [{ name: 'Type', values: ['Message'] }] }],
    ['ids + tags', { ids: [idOf(0), idOf(50), idOf(51)], tags: [{ name: 'Type', values: ['Process'] }] }],
    ['nothing matches', { tags: [{ name: 'Type', values: ['Nope'] }] }],
    ['unknown owner', { owners: ['x'.repeat(43)] }],
  ];
  for (const [name, filter] of cases) {
    it(`pages ${name} in both orders exactly like a scan`, () => {
      for (const sort of ['HEIGHT_DESC', 'HEIGHT_ASC'] as const) {
        const expected = reference({ ...filter, first: 0, sort });
        const first = expected.length > 300 ? 100 : 7;
        const got = walk({ ...filter, first, sort });
        assert.deepEqual(got, expected, `${name} ${sort}`);
      }
    });
  }

  it('answers first page with hasNextPage and stops on the last', () => {
    const page = store.queryItems({ tags: [{ name: 'Type', values: ['Scheduler-Location'] }], first: 1, sort: 'HEIGHT_DESC' });
    assert.equal(page.rows.length, 1);
    assert.equal(page.hasNextPage, true);
    assert.equal(page.rows[0]!.id, model[2400]!.id);
  });

  it('refuses cursors it did not issue', () => {
    assert.throws(() => decodeCursor('garbage!'), (error: unknown) => isLevityError(error) && error.code === 'GATEWAY_BAD_CURSOR');
  });

  it('moves items from pending into a bundle in one commit', async () => {
    const stats = store.pendingStats();
    assert.equal(stats.items, model.length);
    const batch = store.pendingBatch(13 * 10);
    assert.equal(batch.length, 10);
    const bundle = await store.addBundle(
      { root: `0x${'ab'.repeat(32)}`, id: 'bundle-id', size: 1000, createdMs: 5 },
      batch.map((item, index) => ({ seq: item.seq, offset: 32 + 64 * 10 + index * 13 })),
    );
    assert.equal(store.pendingStats().items, model.length - 10);
    const row = store.itemById(model[0]!.id)!;
    assert.equal(row.bundleRef, bundle.ref);
    assert.equal(row.bundleOffset, 672);
    assert.equal(store.pendingRaw(row.seq), undefined);
    // The same bundle recorded again (a retry after a crash) is still one bundle.
    assert.equal((await store.addBundle({ root: `0x${'ab'.repeat(32)}`, id: 'bundle-id', size: 1000, createdMs: 6 }, [])).ref, bundle.ref);
    assert.equal(store.counts().bundles, 1);
    assert.deepEqual(
      store.queryItems({ bundledIn: ['bundle-id'], first: 100, sort: 'HEIGHT_ASC' }).rows.map((r) => r.id),
      model.slice(0, 10).map((m) => m.id),
    );
  });

  it('lists blocks by height with paging', () => {
    const first = store.queryBlocks({ min: 5, first: 3, sort: 'HEIGHT_ASC' });
    assert.deepEqual(first.rows.map((b) => b.height), [5, 6, 7]);
    assert.equal(first.hasNextPage, true);
    const next = store.queryBlocks({ min: 5, max: 9, first: 3, after: 7, sort: 'HEIGHT_ASC' });
    assert.deepEqual(next.rows.map((b) => b.height), [8, 9]);
    assert.equal(next.hasNextPage, false);
    assert.equal(store.latestBlock()?.height, Math.floor(2599 / 7));
  });
});

describe('sqliteGatewayStore on an index made before nested bundles', () => {
  it('adds the parent columns once and keeps every row', async () => {
    const dir = await tempDir();
    try {
      const path = join(dir, 'index.sqlite');
      const old = new DatabaseSync(path);
      old.exec(`PRAGMA journal_mode = WAL;
        CREATE TABLE owners (ref INTEGER PRIMARY KEY, address TEXT NOT NULL UNIQUE, key BLOB NOT NULL, sig_type INTEGER NOT NULL);
        CREATE TABLE items (
          seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, owner INTEGER NOT NULL, sig_type INTEGER NOT NULL, signature BLOB NOT NULL,
          recipient TEXT, anchor BLOB, data_type TEXT, data_size INTEGER NOT NULL, data_offset INTEGER NOT NULL,
          raw_size INTEGER NOT NULL, height INTEGER NOT NULL, timestamp INTEGER NOT NULL, bundle INTEGER, bundle_offset INTEGER);
        INSERT INTO owners VALUES (1, 'owner-address', x'01', 2);
        INSERT INTO items (id, owner, sig_type, signature, data_size, data_offset, raw_size, height, timestamp) VALUES ('${idOf(1)}', 1, 2, x'02', 1, 2, 3, 4, 5);`);
      old.close();
      for (let open = 0; open < 2; open++) {
        const store = sqliteGatewayStore(path);
        try {
          const row = store.itemById(idOf(1));
          assert.equal(row?.height, 4);
          assert.equal(row?.parentRef, null);
          assert.deepEqual(store.queryItems({ bundledIn: [idOf(1)], first: 10, sort: 'HEIGHT_DESC' }).rows, []);
          if (open === 0) assert.deepEqual(await store.addItems([fakeItem(2, { owner: 1, height: 6, tags: [] })]), [true]);
          assert.equal(store.counts().items, 2);
        } finally {
          await store.close();
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
