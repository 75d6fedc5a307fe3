import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidInputError } from '../errors.ts';
import { decodeResultCursor, encodeResultCursor } from './cursor.ts';

const isBadCursor = (e: unknown): boolean => e instanceof InvalidInputError && e.code === 'AO_BAD_CURSOR';

describe('result cursors', () => {
  it('encodes btoa(JSON.stringify({timestamp, ordinate, cron, sort}))', () => {
    const cursor = { timestamp: 1_718_033_463_000, ordinate: '12', cron: '0-10-minutes', sort: 'ASC' as const };
    const text = encodeResultCursor(cursor);
    assert.equal(text, btoa(JSON.stringify(cursor)));
    assert.deepEqual(decodeResultCursor(text), cursor);
  });

  it('drops an absent cron like JSON.stringify does', () => {
    const text = encodeResultCursor({ timestamp: 5, ordinate: '3', sort: 'DESC' });
    assert.equal(atob(text), '{"timestamp":5,"ordinate":"3","sort":"DESC"}');
    assert.deepEqual(decodeResultCursor(text), { timestamp: 5, ordinate: '3', sort: 'DESC' });
  });

  it('accepts a bare timestamp', () => {
    assert.deepEqual(decodeResultCursor('1718033463000'), { timestamp: 1_718_033_463_000 });
    assert.deepEqual(decodeResultCursor('0'), { timestamp: 0 });
  });

  it('accepts numeric ordinates as text', () => {
    assert.deepEqual(decodeResultCursor(btoa('{"timestamp":1,"ordinate":4}')), { timestamp: 1, ordinate: '4' });
  });

  it('refuses anything else with AO_BAD_CURSOR', () => {
    const bad = ['', 'abc!', '-5', '12.5', btoa('not json'), btoa('[1]'), btoa('null'), btoa('{"ordinate":"1"}'),
      btoa('{"timestamp":"1"}'), btoa('{"timestamp":1,"sort":"UP"}'), btoa('{"timestamp":1,"cron":5}'),
      btoa('{"timestamp":-1}'), btoa('{"timestamp":1,"ordinate":{}}')];
    for (const text of bad) assert.throws(() => decodeResultCursor(text), isBadCursor, text);
  });
});
