/** Tag lookups, aos key normalisation, and the MU/SU acceptance rules for items (spec ao.md §4.5, §5). */
import { InvalidInputError } from '../errors.ts';
import type { DataItem, Tag } from '../ans104/types.ts';

/** The first value of a tag, or undefined. */
export function tagValue(tags: readonly Tag[], name: string): string | undefined {
  for (const tag of tags) if (tag.name === name) return tag.value;
  return undefined;
}

/** Every value of a tag, in order. */
export function tagValues(tags: readonly Tag[], name: string): string[] {
  const values: string[] = [];
  for (const tag of tags) if (tag.name === name) values.push(tag.value);
  return values;
}

/**
 * aos's Title-Case rule: `_` becomes `-`, then lower case, then upper-case the first letter and
 * every letter after a `-` (`content_type` → `Content-Type`). Like Lua's string functions it only
 * changes ASCII letters.
 */
export function normalizeKey(name: string): string {
  return name
    .replaceAll('_', '-')
    .replace(/[A-Z]/g, (c) => c.toLowerCase())
    .replace(/^[a-z]/, (c) => c.toUpperCase())
    .replace(/-[a-z]/g, (s) => s.toUpperCase());
}

export type AoItemType = 'Process' | 'Message';

function missing(name: string, why: string): InvalidInputError {
  return new InvalidInputError('AO_MISSING_TAG', `Missing ${name} tag`, { details: why, meta: { tag: name } });
}

function checkAoTags(tags: readonly Tag[]): AoItemType {
  if (tagValue(tags, 'Data-Protocol') === undefined) throw missing('Data-Protocol', 'ao items carry Data-Protocol (ao)');
  const type = tagValue(tags, 'Type');
  if (type === undefined) throw missing('Type', 'ao items carry Type: Process or Message');
  if (type !== 'Process' && type !== 'Message') {
    throw new InvalidInputError('AO_BAD_TYPE', 'Type must be Process or Message', {
      details: `got ${JSON.stringify(type.slice(0, 64))}`,
      meta: { type },
    });
  }
  if (type === 'Process') {
    for (const name of ['Module', 'Scheduler']) {
      if (tagValue(tags, name) === undefined) throw missing(name, `a Process names its ${name}`);
    }
  }
  return type;
}

/** MU acceptance (§5): Data-Protocol present, Type Process|Message, a Process names Module and Scheduler. */
export function checkMuItem(item: DataItem): AoItemType {
  return checkAoTags(item.tags);
}

/** SU acceptance (§5): the MU rules, and no tag name may end in `+link`. */
export function checkSuItem(item: DataItem): AoItemType {
  const linked = item.tags.find((tag) => tag.name.endsWith('+link'));
  if (linked !== undefined) {
    throw new InvalidInputError('AO_LINK_TAG', 'Tag names ending in +link are not accepted', {
      details: `tag ${JSON.stringify(linked.name.slice(0, 64))}`,
      meta: { tag: linked.name },
    });
  }
  return checkAoTags(item.tags);
}
