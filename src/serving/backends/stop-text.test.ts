import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutStream } from './stop-text.ts';

test('without stops everything but a split character may be sent', () => {
  assert.deepEqual(cutStream('hello', 0, []), { safeEnd: 5 });
  assert.deepEqual(cutStream('caf\uFFFD', 0, []), { safeEnd: 3 });
  assert.deepEqual(cutStream('caf\uFFFD', 3, []), { safeEnd: 3 });
});

test('a tail that may become a stop string is held back', () => {
  assert.deepEqual(cutStream('hello wo', 0, ['world']), { safeEnd: 6 });
  assert.deepEqual(cutStream('hello w', 2, ['world', 'wx']), { safeEnd: 6 });
  assert.deepEqual(cutStream('hello', 0, ['xyz']), { safeEnd: 5 });
});

test('a complete stop string ends the text where it starts', () => {
  assert.deepEqual(cutStream('hello world!', 6, ['world']), { stopAt: 6, safeEnd: 6 });
  assert.deepEqual(cutStream('a END b STOP', 0, ['STOP', 'END']), { stopAt: 2, safeEnd: 2 });
  // What was sent is final: a stop string is only looked for after it.
  assert.deepEqual(cutStream('ab ab', 3, ['ab']), { stopAt: 3, safeEnd: 3 });
});
