import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LUA_MODULE_FORMAT, moduleTags, parseComputeLimit, parseMemoryLimit } from './module.ts';

test('module tags carry what the spawn check requires', () => {
  const tags = moduleTags({ format: LUA_MODULE_FORMAT, memoryLimit: '1-gb' });
  const get = (name: string) => tags.find((tag) => tag.name === name)?.value;
  assert.equal(get('Data-Protocol'), 'ao');
  assert.equal(get('Type'), 'Module');
  assert.equal(get('Module-Format'), LUA_MODULE_FORMAT);
  assert.equal(get('Input-Encoding'), 'JSON-1');
  assert.equal(get('Output-Encoding'), 'JSON-1');
  assert.equal(get('Memory-Limit'), '1-gb');
});

test('memory limits read the way module tags write them', () => {
  assert.equal(parseMemoryLimit('1-gb'), 1024 ** 3);
  assert.equal(parseMemoryLimit('512-mb'), 512 * 1024 ** 2);
  assert.equal(parseMemoryLimit('4096'), 4096);
  assert.throws(() => parseMemoryLimit('lots'), { code: 'AO_BAD_MEMORY_LIMIT' });
  assert.equal(parseComputeLimit('9e12'), 9e12);
  assert.throws(() => parseComputeLimit('-1'), { code: 'AO_BAD_COMPUTE_LIMIT' });
});
