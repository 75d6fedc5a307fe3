import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidInputError } from '../../protocol/errors.ts';
import { createLuaProcess, restoreLuaProcess } from './lua-process.ts';
import { luaRuntimeSource } from './lua-runtime-source.ts';
import { DEFAULT_OPTIONS, OWNER, PROCESS_ID, STRANGER, bootProcess, outputData, plain, tagNames, tagsOf } from './lua-test-kit.ts';

const PING = "Handlers.add('ping', 'Ping', function(msg) msg.reply({ Data = 'pong' }) end)";

describe('aos acceptance behaviours (spec ao.md §4.5)', () => {
  it('1. the boot message with On-Boot=Data evaluates its Data', async () => {
    const p = await bootProcess({ bootData: "Booted = 'yes'\nprint('hello from boot')" });
    assert.equal(p.boot.Error, undefined);
    assert.match(outputData(p.boot), /hello from boot/);
    assert.equal(p.value('Booted'), 'yes');
    assert.equal(p.value('Owner'), OWNER);
    assert.equal(p.value('#Inbox'), '1', 'the process message is kept in the Inbox');
  });

  it('2. an Eval from the owner adds handlers', async () => {
    const p = await bootProcess();
    const evaluated = p.eval(PING);
    assert.equal(evaluated.Error, undefined);
    assert.equal(p.value("(function() local names = {} for _, h in ipairs(Handlers.list) do names[#names + 1] = h.name end return table.concat(names, ',') end)()"), '_eval,_default,ping');
    const reply = p.send({ tags: { Action: 'Ping' } });
    assert.equal(reply.Messages.length, 1);
    assert.equal(reply.Messages[0]?.Data, 'pong');
  });

  it('3. msg.reply gives Target, Data, a 32-digit Anchor and the ao tags first', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('ping', 'Ping', function(msg) msg.reply({ Data = 'pong', Action = 'Pong' }) end)" });
    const result = p.send({ from: STRANGER, tags: { Action: 'Ping', Reference: '7' } });
    const [reply] = result.Messages;
    assert.ok(reply);
    assert.equal(reply.Target, STRANGER);
    assert.equal(reply.Data, 'pong');
    assert.equal(reply.Anchor, '00000000000000000000000000000001');
    assert.deepEqual(tagNames(reply).slice(0, 4), ['Data-Protocol', 'Variant', 'Type', 'Reference']);
    assert.deepEqual(tagsOf(reply), {
      'Data-Protocol': 'ao',
      Variant: 'ao.TN.1',
      Type: 'Message',
      Reference: '1',
      Action: 'Pong',
      'X-Reference': '7',
    });
  });

  it('4. an Eval from someone else goes to the Inbox and prints "New Message From"', async () => {
    const p = await bootProcess();
    const result = p.send({ from: STRANGER, tags: { Action: 'Eval' }, data: 'Hacked = true' });
    assert.equal(result.Error, undefined);
    assert.match(plain(outputData(result)), /New Message From STR\.\.\.sss: Action = Eval/);
    assert.equal(p.value('tostring(Hacked)'), 'nil');
    assert.equal(p.value('#Inbox'), '2');
    assert.equal(p.value('Inbox[2].From'), STRANGER);
  });
});

describe('Output', () => {
  it('has data, prompt and test for Eval, data, prompt and print otherwise', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('say', 'Say', function() print('said') end)" });
    const evaluated = p.eval('1 + 41');
    const output = evaluated.Output as Record<string, unknown>;
    assert.equal(plain(String(output.data)), '42');
    assert.match(plain(String(output.prompt)), /^aos@aos-[\d.]+\[Inbox:1\]> $/);
    assert.equal(typeof output.test, 'string');
    assert.equal(output.print, undefined);
    const said = p.send({ tags: { Action: 'Say' } }).Output as Record<string, unknown>;
    assert.equal(said.data, 'said');
    assert.equal(said.print, true);
    assert.equal(typeof said.prompt, 'string');
  });

  it('prints tables, numbers, booleans and nil', async () => {
    const p = await bootProcess();
    const out = plain(outputData(p.eval("print({ a = 1, list = { 'x', 'y' } }); print(3.5); print(true); print(nil); print('a', 2)")));
    assert.deepEqual(out.split('\n'), ['{ a = 1, list = { "x", "y" } }', '3.5', 'true', 'nil', 'a\t2']);
    assert.match(outputData(p.eval('print(7)')), /\x1b\[34m7\x1b\[0m/, 'numbers are coloured');
  });

  it('an Eval syntax error is an Error', async () => {
    const p = await bootProcess();
    const result = p.eval('this is not lua');
    assert.match(result.Error ?? '', /syntax error|unexpected symbol|near/);
  });

  it('a runtime error in Eval is an Error with the printed logs and the message', async () => {
    const p = await bootProcess();
    const result = p.eval("print('before'); error('boom')");
    assert.match(plain(result.Error ?? ''), /^before\n\nerror:\n.*boom/s);
  });
});

describe('limits and rollback', () => {
  it('an infinite loop in a handler or in Eval ends with an Error naming the limit; the next message works', async () => {
    const p = await bootProcess({ bootData: `${PING}\nHandlers.add('spin', 'Spin', function() Spun = true while true do end end)` });
    const spun = p.send({ tags: { Action: 'Spin' } });
    assert.match(spun.Error ?? '', /instruction limit exceeded/);
    assert.ok((spun.GasUsed ?? 0) >= DEFAULT_OPTIONS.instructionLimit);
    assert.equal(p.value('tostring(Spun)'), 'nil', 'the state before the message is kept');
    assert.match(p.eval('while true do end').Error ?? '', /instruction limit exceeded/);
    assert.equal(p.send({ tags: { Action: 'Ping' } }).Messages[0]?.Data, 'pong');
  });

  it('user code cannot swallow the limit with pcall, xpcall or coroutines', async () => {
    const p = await bootProcess();
    for (const code of [
      'while true do pcall(function() while true do end end) end',
      'xpcall(function() while true do end end, function() while true do end end) return 1',
      'while true do coroutine.resume(coroutine.create(function() while true do end end)) end',
      'local co = coroutine.wrap(function() while true do end end) local ok = pcall(co) return "survived"',
    ]) {
      const result = p.eval(code);
      assert.match(result.Error ?? '', /instruction limit exceeded/, code);
    }
    assert.equal(p.value('1 + 1'), '2');
  });

  it('a memory bomb ends with an Error; the next message works and memory is back', async () => {
    const p = await bootProcess({ bootData: PING });
    const before = p.process.memoryUsed();
    const result = p.eval("Big = string.rep('x', 200e6)");
    assert.match(result.Error ?? '', /not enough memory/);
    assert.equal(p.value('tostring(Big)'), 'nil');
    assert.ok(p.process.memoryUsed() < before + 1024 * 1024);
    const tables = p.eval('local t = {} for i = 1, 1e8 do t[i] = {} end');
    assert.match(tables.Error ?? '', /not enough memory|instruction limit/);
    assert.equal(p.send({ tags: { Action: 'Ping' } }).Messages[0]?.Data, 'pong');
  });

  it('a message bigger than the memory limit is an Error, not a crash', async () => {
    const p = await bootProcess({ bootData: PING, options: { memoryLimitBytes: 3 * 1024 * 1024 } });
    const huge = p.send({ tags: { Action: 'Ping' }, data: 'x'.repeat(4 * 1024 * 1024) });
    assert.match(huge.Error ?? '', /not enough memory/);
    assert.equal(p.send({ tags: { Action: 'Ping' } }).Messages[0]?.Data, 'pong');
    assert.match(p.eval("error(setmetatable({}, { __tostring = function() return 'custom' end }))").Error ?? '', /custom|table/);
  });

  it('a Lua error in a handler is an Error, prints it, and leaves no trace', async () => {
    const p = await bootProcess({
      bootData: "Count = 0\nHandlers.add('bad', 'Bad', function(msg) Count = Count + 1; msg.reply({ Data = 'x' }); error('handler broke') end)",
    });
    const result = p.send({ tags: { Action: 'Bad' } });
    assert.match(result.Error ?? '', /handler broke/);
    assert.deepEqual(result.Messages, []);
    assert.match(plain(outputData(result)), /handler broke[\s\S]*stack traceback/);
    assert.equal(p.value('Count'), '0');
  });

  it('rolls back across many messages since the last heap copy', async () => {
    const p = await bootProcess({ bootData: "N = 0\nHandlers.add('inc', 'Inc', function() N = N + 1 end)" });
    for (let i = 0; i < 50; i++) p.send({ tags: { Action: 'Inc' } });
    assert.ok(p.eval('N = N + 1000; error("no")').Error);
    assert.equal(p.value('N'), '50');
    assert.ok(p.eval('N = N + 1000; error("again")').Error);
    assert.equal(p.value('N'), '50');
  });

  it('the wall-clock net stops what the instruction count would let run too long', async () => {
    const p = await bootProcess({ options: { instructionLimit: 1e12, wallTimeoutMs: 100 } });
    const started = Date.now();
    assert.match(p.eval('while true do end').Error ?? '', /wall-clock timeout exceeded/);
    assert.ok(Date.now() - started < 5000);
    assert.equal(p.value('1 + 1'), '2');
  });

  it('after a rollback the process is exactly the twin that never saw the failing message', async () => {
    const setup = "Handlers.add('grow', 'Grow', function(msg) Items = Items or {}; table.insert(Items, { msg.Id, {} }) end)";
    const a = await bootProcess({ bootData: setup });
    const b = await bootProcess({ bootData: setup });
    const probe = "tostring({}) .. ' ' .. collectgarbage('count') .. ' ' .. #Items";
    for (let i = 0; i < 5; i++) {
      a.send({ tags: { Action: 'Grow' } });
      b.send({ tags: { Action: 'Grow' } });
    }
    assert.ok(a.eval("Items = nil; error('fail after changing state')").Error);
    b.message({});
    assert.equal(a.value(probe), b.value(probe));
    assert.equal(a.process.stateHash(), b.process.stateHash());
  });

  it('dryRun answers without keeping anything', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('set', 'Set', function(msg) Value = msg.Data; msg.reply({ Data = 'ok' }) end)" });
    const hash = p.process.stateHash();
    const result = p.process.dryRun(p.message({ tags: { Action: 'Set' }, data: 'dry' }), p.env);
    assert.equal(result.Messages[0]?.Data, 'ok');
    assert.equal(p.process.stateHash(), hash);
    assert.equal(p.value('tostring(Value)'), 'nil');
  });
});

describe('sandbox', () => {
  it('offers no files, processes, environment, C modules or debug hooks', async () => {
    const p = await bootProcess();
    assert.equal(p.value('tostring(io)'), 'nil');
    for (const name of ['execute', 'remove', 'rename', 'exit', 'getenv', 'tmpname']) {
      assert.equal(p.value(`tostring(os.${name})`), 'nil', `os.${name}`);
    }
    assert.equal(p.value('tostring(loadfile) .. tostring(dofile) .. tostring(package.loadlib)'), 'nilnilnil');
    assert.equal(p.value('tostring(debug.sethook) .. tostring(debug.getregistry) .. type(debug.traceback)'), 'nilnilfunction');
    assert.match(p.eval("require('socket.core')").Error ?? '', /module 'socket.core' not found/);
    assert.match(p.eval("collectgarbage('stop')").Error ?? '', /not available/);
    assert.equal(p.value("select(2, load(string.dump(function() return 1 end)))"), "attempt to load a binary chunk (mode is 't')");
    assert.match(p.eval('setmetatable({}, { __gc = function() end })').Error ?? '', /__gc/);
    assert.equal(p.value('os.clock()'), '0.0');
    assert.equal(p.value("type(collectgarbage('count'))"), 'number');
  });

  it('os.time is the message timestamp and os.date is UTC', async () => {
    const p = await bootProcess({ bootData: "Handlers.add('time', 'Time', function(msg) msg.reply({ Data = tostring(os.time()) }) end)" });
    const result = p.send({ tags: { Action: 'Time' }, timestamp: 1_712_345_678_901 });
    assert.equal(result.Messages[0]?.Data, '1712345678901');
    assert.equal(p.value("os.time({ year = 2024, month = 1, day = 2, hour = 3, min = 4, sec = 5 })"), String(Date.UTC(2024, 0, 2, 3, 4, 5) / 1000));
    assert.equal(p.value("os.date('%Y-%m-%d %H:%M:%S', 86400 * 365)"), '1971-01-01 00:00:00');
  });
});

describe('determinism, state hash and snapshots', () => {
  const script = [
    `Handlers.add('roll', 'Roll', function(msg) Rolls = Rolls or {}; local r = math.random(1, 1000000); table.insert(Rolls, r); msg.reply({ Data = tostring(r) }) end)`,
    "Handlers.add('store', 'Store', function(msg) Store = Store or {}; Store[msg.Key] = msg.Data; msg.reply({ Stored = msg.Key }) end)",
  ].join('\n');

  async function drive() {
    const p = await bootProcess({ bootData: script });
    const results = [
      p.send({ tags: { Action: 'Roll' } }),
      p.send({ tags: { Action: 'Store', Key: 'a' }, data: 'one' }),
      p.send({ from: STRANGER, tags: { Action: 'Hello' } }),
      p.send({ tags: { Action: 'Roll' } }),
    ];
    return { p, results };
  }

  it('the same messages give the same results and state hash on two fresh processes', async () => {
    const a = await drive();
    const b = await drive();
    assert.deepEqual(a.results, b.results);
    assert.match(a.p.process.stateHash(), /^[0-9a-f]{64}$/);
    assert.equal(a.p.process.stateHash(), b.p.process.stateHash());
    b.p.send({ tags: { Action: 'Store', Key: 'b' }, data: 'two' });
    assert.notEqual(a.p.process.stateHash(), b.p.process.stateHash());
  });

  it('math.random depends on the message', async () => {
    const { results } = await drive();
    const first = results[0]?.Messages[0]?.Data;
    const second = results[3]?.Messages[0]?.Data;
    assert.ok(first && second);
    assert.notEqual(first, second);
  });

  it('stateHash does not disturb the process', async () => {
    const a = await drive();
    const b = await drive();
    a.p.process.stateHash();
    a.p.process.stateHash();
    assert.deepEqual(a.p.send({ tags: { Action: 'Roll' } }), b.p.send({ tags: { Action: 'Roll' } }));
    assert.equal(a.p.value('tostring({}):len() > 0 and collectgarbage("count")'), b.p.value('tostring({}):len() > 0 and collectgarbage("count")'));
  });

  it('snapshot and restore give the same hash and continue like an unrestored twin', async () => {
    const original = await drive();
    const twin = await drive();
    const snapshot = original.p.process.snapshot();
    const hash = original.p.process.stateHash();
    original.p.process.close();
    const restored = await restoreLuaProcess(luaRuntimeSource(), snapshot, DEFAULT_OPTIONS);
    assert.equal(restored.stateHash(), hash);
    const next = twin.p.message({ tags: { Action: 'Roll' } });
    assert.deepEqual(restored.evaluate(next, twin.p.env), twin.p.process.evaluate(next, twin.p.env));
    const evalMessage = twin.p.message({ tags: { Action: 'Eval' }, data: "Handlers.add('late', 'Late', function(m) m.reply({ Data = 'late' }) end)" });
    assert.deepEqual(restored.evaluate(evalMessage, twin.p.env), twin.p.process.evaluate(evalMessage, twin.p.env));
    const late = twin.p.message({ tags: { Action: 'Late' } });
    assert.equal(restored.evaluate(late, twin.p.env).Messages[0]?.Data, 'late');
    assert.equal(restored.stateHash(), (twin.p.process.evaluate(late, twin.p.env), twin.p.process.stateHash()));
    restored.close();
  });

  it('restore refuses a snapshot of another module or garbage', async () => {
    const { p } = await drive();
    const snapshot = p.process.snapshot();
    await assert.rejects(restoreLuaProcess(`${luaRuntimeSource()}\n-- changed`, snapshot, DEFAULT_OPTIONS), InvalidInputError);
    await assert.rejects(restoreLuaProcess(luaRuntimeSource(), new Uint8Array(10), DEFAULT_OPTIONS), InvalidInputError);
  });
});

describe('modules', () => {
  it('any chunk that defines handle(msgJSON, envJSON) is a module', async () => {
    const source = `Count = 0
function handle(msgJSON, envJSON)
  Count = Count + 1
  return '{"ok":true,"response":{"Output":"call ' .. Count .. ' io=' .. tostring(io) .. '","Messages":[],"Spawns":[],"Assignments":[]}}'
end`;
    const p = await createLuaProcess(source, DEFAULT_OPTIONS);
    const message = { Owner: OWNER, From: OWNER, Target: PROCESS_ID, Data: '', Tags: [], Timestamp: 1, 'Block-Height': 1, Cron: false };
    const env = { Process: { Id: PROCESS_ID, Owner: OWNER, Tags: [] }, Module: { Id: PROCESS_ID, Owner: OWNER, Tags: [] } };
    assert.equal(p.evaluate(message, env).Output, 'call 1 io=nil', 'modules run in the same sandbox');
    assert.equal(p.evaluate(message, env).Output, 'call 2 io=nil');
    p.close();
  });

  it('a module without handle, or that does not compile, is refused', async () => {
    await assert.rejects(createLuaProcess('x = 1', DEFAULT_OPTIONS), InvalidInputError);
    await assert.rejects(createLuaProcess('this is not lua', DEFAULT_OPTIONS), InvalidInputError);
    await assert.rejects(createLuaProcess('while true do end function handle() end', DEFAULT_OPTIONS), /instruction limit/);
    await assert.rejects(createLuaProcess(luaRuntimeSource(), { memoryLimitBytes: 0, instructionLimit: 1 }), InvalidInputError);
  });
});
