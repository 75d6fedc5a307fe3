import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bootProcess, outputData, plain } from './lua-test-kit.ts';

/** Handlers that record their name in the global Ran (reset per message by the Reset handler). */
const RECORDER = `
Ran = {}
function record(name) return function() table.insert(Ran, name) end end
function names() local out = {} for _, h in ipairs(Handlers.list) do out[#out + 1] = h.name end return table.concat(out, ',') end
-- Handlers ahead of _eval would also see the test's own Eval messages; this keeps them out.
function notEval(answer) return function(msg) if msg.Action == 'Eval' then return false end return answer end end
function takeRan() local r = table.concat(Ran, ',') Ran = {} return r end
`;

async function recorder(extra: string) {
  const p = await bootProcess({ bootData: `${RECORDER}\n${extra}` });
  assert.equal(p.boot.Error, undefined, p.boot.Error);
  return {
    ...p,
    ran(tags: Record<string, string>, data?: string, from?: string): string {
      const result = p.send({ tags, data, from });
      assert.equal(result.Error, undefined, result.Error);
      return p.value('takeRan()');
    },
  };
}

describe('Handlers registration', () => {
  it('add and append go last, prepend first; a reused name replaces in place', async () => {
    const p = await recorder(`
      Handlers.add('a', 'Go', record('a'))
      Handlers.append('b', function() return 'continue' end, record('b'))
      Handlers.prepend('c', notEval('continue'), record('c'))
    `);
    assert.equal(p.value('names()'), 'c,_eval,_default,a,b');
    assert.equal(p.ran({ Action: 'Go' }), 'c,a');
    p.eval("Handlers.add('c', notEval('continue'), record('c2'))");
    assert.equal(p.value('names()'), 'c,_eval,_default,a,b');
    assert.equal(p.ran({ Action: 'Go' }), 'c2,a');
  });

  it('once runs a single time, remove takes a handler out, before/after insert by name', async () => {
    const p = await recorder(`
      Handlers.add('main', 'Go', record('main'))
      Handlers.once('first', notEval('continue'), record('once'))
      Handlers.before('main').add('pre', notEval('continue'), record('pre'))
      Handlers.after('main').add('post', 'Go', record('post'))
    `);
    assert.equal(p.value('names()'), 'first,_eval,_default,pre,main,post');
    assert.equal(p.ran({ Action: 'Go' }), 'once,pre,main');
    assert.equal(p.ran({ Action: 'Go' }), 'pre,main');
    p.eval("Handlers.remove('main')");
    assert.equal(p.ran({ Action: 'Go' }), 'pre,post');
    assert.equal(p.value("Handlers.once(notEval(false), record('x'))"), '_once_1');
  });

  it('maxRuns counts down and removes the handler at zero', async () => {
    const p = await recorder("Handlers.add('twice', 'Go', record('twice'), 2)");
    assert.equal(p.ran({ Action: 'Go' }), 'twice');
    assert.equal(p.ran({ Action: 'Go' }), 'twice');
    assert.equal(p.ran({ Action: 'Go' }), '');
    assert.equal(p.value('names()'), '_eval,_default');
  });
});

describe('Handlers evaluation: what a pattern answer does', () => {
  const cases: { answer: string; runs: boolean; continues: boolean }[] = [
    { answer: 'true', runs: true, continues: false },
    { answer: 'false', runs: false, continues: true },
    { answer: 'nil', runs: false, continues: true },
    { answer: '"continue"', runs: true, continues: true },
    { answer: '"break"', runs: true, continues: false },
    { answer: '"skip"', runs: false, continues: true },
    { answer: '1', runs: true, continues: true },
    { answer: '-1', runs: true, continues: false },
    { answer: '0', runs: false, continues: true },
  ];
  for (const { answer, runs, continues } of cases) {
    it(`${answer} → ${runs ? 'run' : 'skip'}, then ${continues ? 'continue' : 'stop'}`, async () => {
      const p = await recorder(`
        Handlers.add('probe', function() return ${answer} end, record('probe'))
        Handlers.add('next', function() return 'continue' end, record('next'))
      `);
      const ran = p.ran({ Action: 'Anything' });
      const expected = [runs ? 'probe' : null, continues ? 'next' : null].filter(Boolean).join(',');
      assert.equal(ran, expected);
      const inbox = Number(p.value('#Inbox'));
      p.ran({ Action: 'Anything' });
      assert.equal(Number(p.value('#Inbox')), continues ? inbox + 1 : inbox, '_default runs only when nothing stopped');
    });
  }

  it('an unmatched message goes to _default (Inbox) and a matched one does not', async () => {
    const p = await recorder("Handlers.add('go', 'Go', record('go'))");
    const before = Number(p.value('#Inbox'));
    p.send({ tags: { Action: 'Go' } });
    assert.equal(Number(p.value('#Inbox')), before);
    const unmatched = p.send({ tags: { Action: 'Other' } });
    assert.match(plain(outputData(unmatched)), /New Message From OWN\.\.\.ooo: Action = Other/);
    assert.equal(Number(p.value('#Inbox')), before + 1);
  });
});

describe('Handler patterns', () => {
  it('string patterns match Action; table specs need every key', async () => {
    const p = await recorder(`
      Handlers.add('str', 'Credit-Notice', function() table.insert(Ran, 'str') return end)
      Handlers.add('any', { Action = 'Tab', Flag = '_' }, record('any'))
      Handlers.add('ci', { Action = 'Case', Kind = 'MiXeD' }, record('ci'))
    `);
    assert.equal(p.ran({ Action: 'Credit-Notice' }), 'str');
    assert.equal(p.ran({ Action: 'Credit-NoticeX' }), '');
    assert.equal(p.ran({ Action: 'Tab', Flag: 'whatever' }), 'any');
    assert.equal(p.ran({ Action: 'Tab' }), '');
    assert.equal(p.ran({ Action: 'Case', Kind: 'mixed' }), 'ci');
  });

  it('values with Lua magic characters are patterns; functions and alternatives work', async () => {
    const p = await recorder(`
      Handlers.add('pat', { Action = '^Get%-.+$' }, function() table.insert(Ran, 'pat') return end)
      Handlers.add('fn', { Action = 'Fn', Amount = function(v) return tonumber(v) > 10 end }, record('fn'))
      Handlers.add('alt', { Action = { 'One', 'Two' } }, record('alt'))
      Handlers.add('dot', { Action = 'A.C' }, record('dot'))
    `);
    assert.equal(p.ran({ Action: 'Get-Balance' }), 'pat');
    assert.equal(p.ran({ Action: 'Get-' }), '');
    assert.equal(p.ran({ Action: 'Fn', Amount: '11' }), 'fn');
    assert.equal(p.ran({ Action: 'Fn', Amount: '9' }), '');
    assert.equal(p.ran({ Action: 'Two' }), 'alt');
    assert.equal(p.ran({ Action: 'ABC' }), 'dot');
  });

  it('resolver tables pick the handle whose spec matches', async () => {
    const p = await recorder(`
      Handlers.add('resolve', { Action = 'Route' }, {
        [{ Kind = 'a' }] = record('kind-a'),
        [function(msg) return msg.Kind == 'b' end] = record('kind-b'),
      })
    `);
    assert.equal(p.ran({ Action: 'Route', Kind: 'a' }), 'kind-a');
    assert.equal(p.ran({ Action: 'Route', Kind: 'b' }), 'kind-b');
    assert.equal(p.ran({ Action: 'Route', Kind: 'c' }), '');
  });

  it('Handlers.utils builds patterns and replies', async () => {
    const p = await recorder(`
      local hu = Handlers.utils
      Handlers.add('tag', hu.hasMatchingTag('Action', 'Tagged'), record('tag'))
      Handlers.add('tagof', hu.hasMatchingTagOf('Action', { 'X', 'Y' }), record('tagof'))
      Handlers.add('data', hu.hasMatchingData('ping'), hu.reply('pong'))
      Handlers.add('cont', hu.continue(hu.hasMatchingTag('Action', 'Both')), record('cont'))
      Handlers.add('both', 'Both', record('both'))
    `);
    assert.equal(p.ran({ Action: 'Tagged' }), 'tag');
    assert.equal(p.ran({ Action: 'Y' }), 'tagof');
    assert.equal(p.send({ tags: { Action: 'Anything' }, data: 'ping' }).Messages[0]?.Data, 'pong');
    assert.equal(p.ran({ Action: 'Both' }), 'cont,both');
  });
});

describe('Utils', () => {
  it('offers the functional helpers, curried', async () => {
    const p = await bootProcess();
    assert.equal(p.value("table.concat(Utils.map(function(v) return v * 2 end)({ 1, 2, 3 }), ',')"), '2,4,6');
    assert.equal(p.value("table.concat(Utils.filter(function(v) return v > 1 end, { 1, 2, 3 }), ',')"), '2,3');
    assert.equal(p.value('Utils.reduce(function(a, v) return a + v end, 0, { 1, 2, 3 })'), '6');
    assert.equal(p.value("Utils.find(function(v) return v.id == 2 end, { { id = 1 }, { id = 2, x = 'y' } }).x"), 'y');
    assert.equal(p.value("tostring(Utils.includes(3)({ 1, 2, 3 }))"), 'true');
    assert.equal(p.value("tostring(Utils.propEq('a', 1)({ a = 1 }))"), 'true');
    assert.equal(p.value("table.concat(Utils.reverse({ 1, 2, 3 }), ',')"), '3,2,1');
    assert.equal(p.value("table.concat(Utils.concat({ 1 })({ 2 }), ',')"), '1,2');
    assert.equal(p.value("Utils.compose(function(x) return x + 1 end, function(x) return x * 10 end)(2)"), '21');
    assert.equal(p.value("Utils.prop('k', { k = 'v' })"), 'v');
    assert.equal(p.value('#Utils.keys({ a = 1, b = 2 }) + #Utils.values({ a = 1 })'), '3');
    assert.equal(p.value("tostring(Utils.matchesSpec({ Action = 'X', Tags = {} }, 'X'))"), 'true');
    assert.equal(p.value("tostring(Utils.matchesPattern('_', 'anything'))"), 'true');
  });
});
