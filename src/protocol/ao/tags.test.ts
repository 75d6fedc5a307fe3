import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../errors.ts';
import type { DataItem, Tag } from '../ans104/types.ts';
import { checkMuItem, checkSuItem, normalizeKey, tagValue, tagValues } from './tags.ts';

const withCode = (code: string) => (e: unknown) => e instanceof InvalidInputError && e.code === code;
const itemWith = (tags: Tag[]): DataItem => ({
  signatureType: 2,
  signature: new Uint8Array(64),
  owner: new Uint8Array(32),
  target: undefined,
  anchor: undefined,
  tags,
  rawTags: new Uint8Array(0),
  data: new Uint8Array(0),
  raw: new Uint8Array(0),
  id: 'x'.repeat(43),
});

describe('tag lookups', () => {
  const tags = [
    { name: 'Authority', value: 'a' },
    { name: 'Name', value: 'n' },
    { name: 'Authority', value: 'b,c' },
  ];
  it('finds the first value and every value', () => {
    assert.equal(tagValue(tags, 'Authority'), 'a');
    assert.equal(tagValue(tags, 'authority'), undefined);
    assert.deepEqual(tagValues(tags, 'Authority'), ['a', 'b,c']);
    assert.deepEqual(tagValues(tags, 'Missing'), []);
  });
});

describe('normalizeKey', () => {
  it('applies the aos Title-Case rule', () => {
    const cases: [string, string][] = [
      ['content_type', 'Content-Type'],
      ['ACTION', 'Action'],
      ['action', 'Action'],
      ['x-reference', 'X-Reference'],
      ['Reply-To', 'Reply-To'],
      ['block_height', 'Block-Height'],
      ['data-protocol', 'Data-Protocol'],
      ['a--b', 'A--B'],
      ['1abc-2def', '1abc-2def'],
      ['', ''],
      ['ÉTÉ', 'ÉtÉ'], // only ASCII letters change, as in Lua,
    ];
    for (const [input, expected] of cases) assert.equal(normalizeKey(input), expected, input);
  });
});

describe('MU and SU item checks', () => {
  const message = [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Type', value: 'Message' },
  ];
  const process = [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Type', value: 'Process' },
    { name: 'Module', value: 'm'.repeat(43) },
    { name: 'Scheduler', value: 's'.repeat(43) },
  ];

  it('accepts messages and complete processes', () => {
    for (const check of [checkMuItem, checkSuItem]) {
      assert.equal(check(itemWith(message)), 'Message');
      assert.equal(check(itemWith(process)), 'Process');
    }
  });

  it('refuses missing or bad tags with typed errors', () => {
    for (const check of [checkMuItem, checkSuItem]) {
      assert.throws(() => check(itemWith([{ name: 'Type', value: 'Message' }])), withCode('AO_MISSING_TAG'));
      assert.throws(() => check(itemWith([{ name: 'Data-Protocol', value: 'ao' }])), withCode('AO_MISSING_TAG'));
      assert.throws(() => check(itemWith([...message.slice(0, 1), { name: 'Type', value: 'Assignment' }])), withCode('AO_BAD_TYPE'));
      assert.throws(() => check(itemWith(process.filter((t) => t.name !== 'Module'))), withCode('AO_MISSING_TAG'));
      assert.throws(() => check(itemWith(process.filter((t) => t.name !== 'Scheduler'))), withCode('AO_MISSING_TAG'));
    }
  });

  it('uses the first Type tag', () => {
    assert.equal(checkMuItem(itemWith([...message, { name: 'Type', value: 'Process' }])), 'Message');
  });

  it('refuses +link tag names at the SU only', () => {
    const linked = itemWith([...message, { name: 'Data+link', value: 'x' }]);
    assert.equal(checkMuItem(linked), 'Message');
    assert.throws(() => checkSuItem(linked), withCode('AO_LINK_TAG'));
  });
});
