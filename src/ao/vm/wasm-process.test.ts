import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import type { AoEnv, AoMessage, EvalResult } from '../../protocol/ao/types.ts';
import { InvalidInputError } from '../../protocol/errors.ts';
import { OWNER, PROCESS_ID, STRANGER, outputData, plain, processEnv, tagsOf, toTags } from './lua-test-kit.ts';
import type { MessageInput } from './lua-test-kit.ts';
import type { ProcessVm } from './process-vm.ts';
import { wasmApi } from './wasm-api.ts';
import { createWasmProcess, restoreWasmProcess } from './wasm-process.ts';
import type { WasmProcessOptions } from './wasm-process.ts';

const fixture = (name: string) => readFileSync(new URL(`../../../fixtures/ao-wasm/${name}`, import.meta.url));
/** Lua 5.4 + Levity's aos runtime behind the AO module ABI (fixtures/ao-wasm/build.sh). */
const AOS = fixture('levity-aos.wasm');
/** A C module that exercises one host service per Action (fixtures/ao-wasm/src/probe.c). */
const PROBE = fixture('probe.wasm');
/** The same as wasm64: memory64, pointers as BigInt. */
const PROBE64 = fixture('probe64.wasm');
/** Node 24 has memory64; Node 22 only behind --experimental-wasm-memory64. */
const MEMORY64 = wasmApi.validate(PROBE64);

const OPTIONS: WasmProcessOptions = { memoryLimitBytes: 64 * 1024 * 1024, timeoutMs: 5_000 };

const open: ProcessVm[] = [];
after(async () => {
  await Promise.all(open.map((vm) => vm.close()));
});

async function track(vm: Promise<ProcessVm>): Promise<ProcessVm> {
  const created = await vm;
  open.push(created);
  return created;
}

function messages(env: AoEnv) {
  let counter = 0;
  return (input: MessageInput): AoMessage => {
    counter += 1;
    const owner = input.owner ?? input.from ?? OWNER;
    return {
      Id: input.id ?? `MSG${counter}x`.padEnd(43, 'x'),
      Owner: owner,
      From: input.from ?? owner,
      Target: env.Process.Id,
      Data: input.data ?? '',
      Tags: toTags(input.tags),
      Timestamp: input.timestamp ?? 1_700_000_000_000 + counter * 1000,
      'Block-Height': input.blockHeight ?? 1000 + counter,
      Cron: false,
    };
  };
}

/** An aos process from the wasm module, booted with `bootData` as its On-Boot code. */
async function bootAos(bootData: string, options: Partial<WasmProcessOptions> = {}) {
  const vm = await track(createWasmProcess(AOS, { ...OPTIONS, ...options }));
  const env = processEnv();
  const message = messages(env);
  const boot = await vm.evaluate(message({ id: PROCESS_ID, tags: [...env.Process.Tags, { name: 'On-Boot', value: 'Data' }], data: bootData }), env);
  const send = (input: MessageInput) => vm.evaluate(message(input), env);
  const evalLua = (code: string) => send({ tags: { Action: 'Eval' }, data: code });
  const value = async (expression: string) => {
    const result = await vm.dryRun(message({ tags: { Action: 'Eval' }, data: `return ${expression}` }), env);
    assert.equal(result.Error, undefined, String(result.Error));
    return plain(outputData(result));
  };
  return { vm, env, boot, message, send, evalLua, value };
}

async function probe(options: Partial<WasmProcessOptions> = {}, bytes: Uint8Array = PROBE) {
  const vm = await track(createWasmProcess(bytes, { ...OPTIONS, ...options }));
  const env = processEnv();
  const message = messages(env);
  const act = (action: string, extra: Partial<MessageInput> = {}) => vm.evaluate(message({ tags: { Action: action }, ...extra }), env);
  return { vm, env, message, act };
}

const counted = (result: EvalResult) => Number(result.Messages[0]?.Data);

describe('wasm process: aos (Lua 5.4 compiled with emscripten)', () => {
  it('boots, runs handlers and returns Output, Messages and Spawns', async () => {
    const p = await bootAos(`
      Count = 0
      Handlers.add("inc", "Inc", function (msg) Count = Count + 1; print("count " .. Count); msg.reply({ Data = tostring(Count), Action = "Counted" }) end)
      Handlers.add("kid", "Kid", function (msg) Spawn(ao.env.Module.Id, { Data = "child", Name = "kid" }) end)
      print("booted")`);
    assert.equal(p.boot.Error, undefined);
    assert.match(outputData(p.boot), /booted/);

    const first = await p.send({ from: STRANGER, tags: { Action: 'Inc' } });
    assert.equal(first.Error, undefined);
    assert.match(plain(outputData(first)), /count 1/);
    assert.equal(first.Messages.length, 1);
    assert.equal(first.Messages[0]!.Target, STRANGER);
    assert.deepEqual({ ...tagsOf(first.Messages[0]!), Reference: undefined }, { 'Data-Protocol': 'ao', Variant: 'ao.TN.1', Type: 'Message', Action: 'Counted', Reference: undefined });
    assert.equal((await p.send({ tags: { Action: 'Inc' } })).Messages[0]!.Data, '2');

    const spawned = await p.send({ tags: { Action: 'Kid' } });
    assert.equal(spawned.Spawns.length, 1);
    assert.equal(spawned.Spawns[0]!.Data, 'child');
    assert.equal(tagsOf(spawned.Spawns[0]!).Name, 'kid');
    assert.equal(await p.value('Count'), '2');
  });

  it('sees the message timestamp as its clock', async () => {
    const p = await bootAos('');
    const result = await p.send({ tags: { Action: 'Eval' }, data: 'return os.time()', timestamp: 1_234_567_890_123 });
    assert.equal(plain(outputData(result)), '1234567890123');
  });

  it('leaves no trace of a message that errors', async () => {
    const p = await bootAos('Count = 1');
    const before = await p.vm.stateHash();
    const failed = await p.evalLua('Count = 99; Junk = string.rep("x", 100000); error("boom")');
    assert.match(String(failed.Error), /boom/);
    assert.equal(await p.vm.stateHash(), before);
    assert.equal(await p.value('Count'), '1');
    assert.equal(await p.value('tostring(Junk)'), 'nil');
  });

  it('a dry run changes nothing', async () => {
    const p = await bootAos('Count = 1');
    const before = await p.vm.stateHash();
    const result = await p.vm.dryRun(p.message({ tags: { Action: 'Eval' }, data: 'Count = 5; return Count' }), p.env);
    assert.equal(plain(outputData(result)), '5');
    assert.equal(await p.vm.stateHash(), before);
  });

  it('refuses memory past its limit and carries on', async () => {
    const p = await bootAos('Count = 1', { memoryLimitBytes: 24 * 1024 * 1024 });
    const before = await p.vm.stateHash();
    const bomb = await p.evalLua('Hoard = {} for i = 1, 1e9 do Hoard[i] = string.rep("x", 1024 * 1024) .. i end');
    assert.match(String(bomb.Error), /not enough memory.*memory limit 25165824/s);
    assert.ok(p.vm.memoryUsed() <= 24 * 1024 * 1024);
    assert.equal(await p.vm.stateHash(), before);
    assert.equal(await p.value('tostring(Hoard)'), 'nil');
    assert.equal((await p.evalLua('Count = Count + 1')).Error, undefined);
    assert.equal(await p.value('Count'), '2');
  });

  it('stops a runaway loop at the time limit and restores the process', async () => {
    const p = await bootAos('Count = 1', { timeoutMs: 1_000 });
    const before = await p.vm.stateHash();
    const started = performance.now();
    const loop = await p.evalLua('Count = 50; while true do end');
    assert.match(String(loop.Error), /compute time limit exceeded/);
    assert.ok(performance.now() - started < 15_000, 'the loop was cut off');
    assert.equal(await p.vm.stateHash(), before);
    assert.equal((await p.evalLua('Count = Count + 1')).Error, undefined);
    assert.equal(await p.value('Count'), '2');
  });

  it('restores from a snapshot to the same state hash, and both go on alike', async () => {
    const p = await bootAos('Count = 0; Handlers.add("inc", "Inc", function (msg) Count = Count + 1 end)');
    for (let i = 0; i < 5; i++) await p.send({ tags: { Action: 'Inc' } });
    const snapshot = await p.vm.snapshot();
    const restored = await track(restoreWasmProcess(AOS, snapshot, OPTIONS));
    assert.equal(await restored.stateHash(), await p.vm.stateHash());

    const next = p.message({ tags: { Action: 'Inc' } });
    await p.vm.evaluate(next, p.env);
    await restored.evaluate(next, p.env);
    assert.equal(await restored.stateHash(), await p.vm.stateHash());
    const read = p.message({ tags: { Action: 'Eval' }, data: 'return Count' });
    assert.equal(plain(outputData(await restored.dryRun(read, p.env))), '6');

    await assert.rejects(restoreWasmProcess(PROBE, snapshot, OPTIONS), (error: unknown) => error instanceof InvalidInputError && error.code === 'AO_VM_SNAPSHOT_MISMATCH');
    await assert.rejects(restoreWasmProcess(AOS, snapshot.subarray(0, 100), OPTIONS), (error: unknown) => error instanceof InvalidInputError);
  });

  it('two processes fed the same messages hold the same state', async () => {
    const [a, b] = await Promise.all([bootAos('Seen = {}'), bootAos('Seen = {}')]);
    for (const p of [a, b]) await p.evalLua('Seen[#Seen + 1] = math.random(1000000)');
    assert.equal(await a.vm.stateHash(), await b.vm.stateHash());
  });
});

for (const [width, bytes] of [['wasm32', PROBE], ['wasm64', PROBE64]] as const) {
  describe(`wasm process: host services (probe module in C, ${width})`, { skip: width === 'wasm64' && !MEMORY64 && 'no memory64 in this Node' }, () => {
    it('counts, longjmps, reads the message clock and derives randomness from the message', async () => {
      const p = await probe({}, bytes);
      assert.equal(counted(await p.act('Count')), 1);
      const jump = await p.act('Jump');
      assert.equal(jump.Output, 'landed 7');
      const time = await p.act('Time', { timestamp: 1_700_000_000_123 });
      assert.equal(time.Output, 'time=1700000000 ms=1700000000123');
      const same = p.message({ tags: { Action: 'Random' } });
      const r1 = await p.vm.evaluate(same, p.env);
      const r2 = await p.vm.evaluate(same, p.env);
      const r3 = await p.act('Random');
      assert.match(String(r1.Output), /^[0-9a-f]{16}$/);
      assert.equal(r1.Output, r2.Output, 'the same message gives the same bytes');
      assert.notEqual(r1.Output, r3.Output);
      assert.equal((await p.act('Print')).Output, 'printed', 'stdout and stderr are captured, not printed');
      assert.equal((await p.act('File')).Output, 'open=no errno=44', 'no host files: ENOENT');
      assert.equal(counted(await p.act('Count')), 9);
    });

    it('rolls back messages that fail, error, trap, abort or exhaust memory', async () => {
      const p = await probe({ memoryLimitBytes: 16 * 1024 * 1024 }, bytes);
      await p.act('Count');
      const before = await p.vm.stateHash();
      const cases: [string, RegExp][] = [
        ['Fail', /the module failed: asked to fail/],
        ['Error', /asked for an error/],
        ['Trap', /wasm trap: unreachable/],
        ['Abort', /abort\(\)/],
        ['Grow', /not enough memory after \d+ MiB \(memory limit 16777216 bytes\)/],
      ];
      for (const [action, expected] of cases) {
        const result = await p.act(action);
        assert.match(String(result.Error), expected, action);
        assert.deepEqual(result.Messages, []);
        assert.equal(await p.vm.stateHash(), before, `${action} left no trace`);
      }
      assert.ok(p.vm.memoryUsed() < 16 * 1024 * 1024);
      assert.equal(counted(await p.act('Count')), 2);
    });

    it('rolls back to the state just before a failure when messages came after the baseline', async () => {
      const p = await probe({ timeoutMs: 1_000 }, bytes);
      for (let i = 0; i < 3; i++) await p.act('Count');
      const before = await p.vm.stateHash();
      assert.match(String((await p.act('Trap')).Error), /unreachable/);
      assert.equal(await p.vm.stateHash(), before);
      await p.act('Count');
      const beforeLoop = await p.vm.stateHash();
      assert.match(String((await p.act('Loop')).Error), /compute time limit/);
      assert.equal(await p.vm.stateHash(), beforeLoop);
      assert.equal(counted(await p.act('Count')), 5);
    });

    it('restores from a snapshot to the same state hash', async () => {
      const p = await probe({}, bytes);
      for (let i = 0; i < 3; i++) await p.act('Count');
      const restored = await track(restoreWasmProcess(bytes, await p.vm.snapshot(), OPTIONS));
      assert.equal(await restored.stateHash(), await p.vm.stateHash());
      assert.equal(counted(await restored.evaluate(p.message({ tags: { Action: 'Count' } }), p.env)), 4);
    });
  });
}

describe('wasm process: modules it cannot run', () => {
  it('rejects a module that needs an import the host does not provide, naming it', async () => {
    // (module (import "env" "mystery_fn" (func)) (import "env" "other_fn" (func)) (memory 1) (export "memory" (memory 0)))
    const bytes = new Uint8Array([
      0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 2, 33, 2, 3, 101, 110, 118, 10, 109, 121, 115, 116, 101, 114, 121, 95, 102, 110, 0, 0, 3, 101, 110,
      118, 8, 111, 116, 104, 101, 114, 95, 102, 110, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, 109, 101, 109, 111, 114, 121, 2, 0,
    ]);
    await assert.rejects(createWasmProcess(bytes, OPTIONS), (error: unknown) => {
      assert.ok(error instanceof InvalidInputError);
      assert.equal(error.code, 'AO_WASM_IMPORT_UNSUPPORTED');
      assert.match(error.message, /env\.mystery_fn, env\.other_fn/);
      return true;
    });
    await assert.rejects(createWasmProcess(new Uint8Array([1, 2, 3]), OPTIONS), (error: unknown) => error instanceof InvalidInputError && error.code === 'AO_WASM_MODULE_INVALID');
  });

  it('refuses to start a module whose memory starts past the limit', async () => {
    await assert.rejects(createWasmProcess(AOS, { ...OPTIONS, memoryLimitBytes: 1024 * 1024 }), (error: unknown) => error instanceof InvalidInputError && /limit/.test(error.message));
  });
});
