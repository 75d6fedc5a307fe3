import { InvalidInputError } from '../protocol/errors.ts';

export type SortOrder = 'HEIGHT_ASC' | 'HEIGHT_DESC';
export type TagFilter = { name: string; values: readonly string[]; op?: 'EQ' | 'NEQ' };

/** An Arweave `transactions(...)` filter. Empty lists mean "no filter", as arlocal reads them. */
export type ItemQuery = {
  ids?: readonly string[];
  owners?: readonly string[];
  recipients?: readonly string[];
  tags?: readonly TagFilter[];
  bundledIn?: readonly string[];
  minHeight?: number;
  maxHeight?: number;
  first: number;
  after?: Cursor;
  sort: SortOrder;
};

/** A position in (height, ingest sequence) order: sequence breaks height ties, so paging is stable. */
export type Cursor = { height: number; seq: number };

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(`${cursor.height}:${cursor.seq}`).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  const match = /^(\d{1,15}):(\d{1,15})$/.exec(Buffer.from(text, 'base64url').toString('latin1'));
  if (!match) throw new InvalidInputError('GATEWAY_BAD_CURSOR', `cursor ${JSON.stringify(text.slice(0, 80))} is not one this gateway issued`);
  return { height: Number(match[1]), seq: Number(match[2]) };
}

/** The item columns every item query selects, named as `ItemRow` fields. */
export const ITEM_COLUMNS = `i.seq AS seq, i.id AS id, i.owner AS ownerRef, i.sig_type AS signatureType, i.signature AS signature, i.recipient AS recipient,
  i.anchor AS anchor, i.data_type AS dataType, i.data_size AS dataSize, i.data_offset AS dataOffset, i.raw_size AS rawSize,
  i.height AS height, i.timestamp AS timestamp, i.bundle AS bundleRef, i.bundle_offset AS bundleOffset,
  i.parent AS parentRef, i.parent_offset AS parentOffset`;

export type QueryPlan = { sql: string; params: (string | number)[] };
type Count = (sql: string, params: (string | number)[]) => number;

/**
 * Probing more rows than this to rank drivers costs more than it saves: past it a filter is
 * "large", and only a driver that streams in sort order (one value) is worth using.
 */
const PROBE_CAP = 1000;

const marks = (values: readonly unknown[]) => values.map(() => '?').join(',');

type Driver =
  | { kind: 'tag'; filter: TagFilter; index: number }
  | { kind: 'column'; column: 'owner' | 'recipient' | 'bundle' | 'parent'; index: string; values: readonly (string | number)[] };

/**
 * Builds the SQL for one page of items. With ids the unique index drives; otherwise the most
 * selective filter drives (ranked by a bounded count), walking its index in sort order when it
 * has one value, so a page costs about `first` row visits however many items match. The other
 * filters become per-row checks. Returns undefined when the filter can match nothing.
 */
export function planItemQuery(
  query: ItemQuery,
  refs: { ownerRefs?: readonly number[]; bundleRefs?: readonly number[]; parentRefs?: readonly number[] },
  count: Count,
  /** What to select for each item (default `ITEM_COLUMNS`); rows come in sort order either way. */
  select: string = ITEM_COLUMNS,
): QueryPlan | undefined {
  const desc = query.sort !== 'HEIGHT_ASC';
  const dir = desc ? 'DESC' : 'ASC';
  const ids = nonEmpty(query.ids);
  const owners = nonEmpty(query.owners) ? refs.ownerRefs : undefined;
  const recipients = nonEmpty(query.recipients);
  // `bundledIn` ids resolve to stored bundles and to items holding nested bundles: either matches.
  const containers = nonEmpty(query.bundledIn) ? { bundles: nonEmpty(refs.bundleRefs), parents: nonEmpty(refs.parentRefs) } : undefined;
  if (owners?.length === 0 || (containers && !containers.bundles && !containers.parents)) return undefined;
  const bundles = containers && !containers.parents ? containers.bundles : undefined;
  const parents = containers && !containers.bundles ? containers.parents : undefined;
  const tags = query.tags ?? [];
  if (tags.some((tag) => (tag.op ?? 'EQ') === 'EQ' && tag.values.length === 0)) return undefined;

  const heightRange = (column: string) => {
    const where: string[] = [];
    const params: number[] = [];
    if (query.minHeight !== undefined) where.push(`${column} >= ?`), params.push(query.minHeight);
    if (query.maxHeight !== undefined) where.push(`${column} <= ?`), params.push(query.maxHeight);
    return { where, params };
  };

  let driver: Driver | undefined;
  if (!ids) {
    const candidates: { driver: Driver; n: number; streams: boolean }[] = [];
    const range = heightRange('height');
    const probes: { driver: Driver; streams: boolean; from: string; where: string; params: (string | number)[] }[] = [];
    tags.forEach((filter, index) => {
      if ((filter.op ?? 'EQ') !== 'EQ') return;
      const where = `name = ? AND value IN (${marks(filter.values)})`;
      probes.push({ driver: { kind: 'tag', filter, index }, streams: filter.values.length === 1, from: 'tag_index', where, params: [filter.name, ...filter.values] });
    });
    const columns = [
      ['owner', 'items_owner', owners],
      ['recipient', 'items_recipient', recipients],
      ['bundle', 'items_bundle', bundles],
      ['parent', 'items_parent', parents],
    ] as const;
    for (const [column, index, values] of columns) {
      if (!values) continue;
      const where = `${column} IN (${marks(values)})`;
      probes.push({ driver: { kind: 'column', column, index, values }, streams: values.length === 1, from: `items INDEXED BY ${index}`, where, params: [...values] });
    }
    if (probes.length === 1 && probes[0]!.streams) {
      // The only driver, and one that streams: it would be picked whatever the count said.
      driver = probes[0]!.driver;
    } else {
      for (const probe of probes) {
        const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${probe.from} WHERE ${[probe.where, ...range.where].join(' AND ')} LIMIT ${PROBE_CAP})`;
        candidates.push({ driver: probe.driver, n: count(sql, [...probe.params, ...range.params]), streams: probe.streams });
      }
      if (candidates.some((candidate) => candidate.n === 0)) return undefined;
      candidates.sort((a, b) => a.n - b.n);
      const best = candidates[0];
      if (best && best.n < PROBE_CAP) driver = best.driver;
      else driver = candidates.find((candidate) => candidate.streams)?.driver;
    }
  }

  const where: string[] = [];
  const params: (string | number)[] = [];
  const add = (clause: string, values: readonly (string | number)[]) => {
    where.push(clause);
    params.push(...values);
  };
  let from: string;
  let order: string;
  let distinct = '';
  if (driver?.kind === 'tag') {
    from = 'tag_index d CROSS JOIN items i ON i.seq = d.item';
    add(`d.name = ? AND d.value IN (${marks(driver.filter.values)})`, [driver.filter.name, ...driver.filter.values]);
    const range = heightRange('d.height');
    for (const clause of range.where) where.push(clause);
    params.push(...range.params);
    if (query.after) add(`(d.height, d.item) ${desc ? '<' : '>'} (?, ?)`, [query.after.height, query.after.seq]);
    if (driver.filter.values.length > 1) {
      // One item may carry several of the values: it is still one result.
      distinct = 'DISTINCT ';
      order = `i.height ${dir}, i.seq ${dir}`;
    } else {
      order = `d.height ${dir}, d.item ${dir}`;
    }
  } else {
    from = driver ? `items i INDEXED BY ${driver.index}` : ids ? 'items i' : 'items i INDEXED BY items_height';
    const range = heightRange('i.height');
    for (const clause of range.where) where.push(clause);
    params.push(...range.params);
    if (query.after) add(`(i.height, i.seq) ${desc ? '<' : '>'} (?, ?)`, [query.after.height, query.after.seq]);
    order = `i.height ${dir}, i.seq ${dir}`;
  }
  if (ids) add(`i.id IN (${marks(ids)})`, ids);
  if (owners) add(`i.owner IN (${marks(owners)})`, owners);
  if (recipients) add(`i.recipient IN (${marks(recipients)})`, recipients);
  if (bundles) add(`i.bundle IN (${marks(bundles)})`, bundles);
  else if (parents) add(`i.parent IN (${marks(parents)})`, parents);
  else if (containers) {
    const both = [...containers.bundles!, ...containers.parents!];
    add(`(i.bundle IN (${marks(containers.bundles!)}) OR i.parent IN (${marks(containers.parents!)}))`, both);
  }
  tags.forEach((filter, index) => {
    if (driver?.kind === 'tag' && driver.index === index) return;
    if (filter.values.length === 0) {
      add('EXISTS (SELECT 1 FROM tags t WHERE t.item = i.seq AND t.name = ?)', [filter.name]);
      return;
    }
    const op = (filter.op ?? 'EQ') === 'EQ' ? 'IN' : 'NOT IN';
    add(`EXISTS (SELECT 1 FROM tags t WHERE t.item = i.seq AND t.name = ? AND t.value ${op} (${marks(filter.values)}))`, [
      filter.name,
      ...filter.values,
    ]);
  });
  const sql = `SELECT ${distinct}${select} FROM ${from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${order} LIMIT ?`;
  return { sql, params: [...params, query.first + 1] };
}

function nonEmpty<T>(values: readonly T[] | undefined): readonly T[] | undefined {
  return values && values.length > 0 ? values : undefined;
}
