/**
 * An AO wasm module end to end: `levity ao publish-module` posts Lua 5.4 + Levity's aos runtime
 * compiled with emscripten (fixtures/ao-wasm), the real @permaweb/aoconnect spawns a process on
 * it, messages it and reads results; the MU cranks its outbox to a Lua process; a restarted
 * devnet restores it from its checkpoint, and a CU with an empty disk rebuilds the same state.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli, startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { connectAo, eventually, outputText, peek, processTags, tag } from './ao-helpers.ts';
import type { AoKit } from './ao-helpers.ts';

const WASM = fileURLToPath(new URL('../../fixtures/ao-wasm/levity-aos.wasm', import.meta.url));
const FORMAT = 'wasm32-unknown-emscripten2';
const BOOT = `
Count = 0
Handlers.add("inc", "Inc", function (msg)
  Count = Count + tonumber(msg.By or "1")
  msg.reply({ Action = "Counted", Data = "count " .. Count })
end)
Handlers.add("tell", "Tell", function (msg) Send({ Target = msg.Data, Action = "Heard", Data = "count " .. Count }) end)
print("wasm process up")
`;

let dir: string;
let devnetDir: string;
let devnet: RunningDevnet;
let kit: AoKit;
let moduleId: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-ao-wasm-'));
  devnetDir = join(dir, 'devnet');
  devnet = await startDevnet(devnetDir, [], 120_000);
  kit = await connectAo(devnet.manifest);
});

after(async () => {
  await devnet?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function send(process: string, action: string, data?: string, extra: { name: string; value: string }[] = []) {
  const id = await kit.ao.message({ process, signer: kit.signer, tags: [tag('Action', action), ...extra], data });
  return kit.ao.result({ message: id, process });
}

async function stateOf(cu: string, pid: string): Promise<{ hash: string; nonce: number }> {
  const response = await fetch(`${cu}/state/${pid}?format=json`);
  assert.equal(response.status, 200, `${await response.clone().text()}\n${devnet.stderr().slice(-3000)}`);
  return (await response.json()) as { hash: string; nonce: number };
}

async function spawnWasm(): Promise<string> {
  const ao = devnet.manifest.ao!;
  return kit.ao.spawn({ module: moduleId, scheduler: ao.scheduler, signer: kit.signer, tags: processTags(devnet.manifest, [tag('Name', 'wasm-counter'), tag('On-Boot', 'Data')]), data: BOOT });
}

test('publish the wasm module with the CLI, spawn on it with aoconnect, message, result, dryrun, results', async () => {
  const published = await runCli(['ao', 'publish-module', WASM, '--format', FORMAT, '--name', 'levity-aos-wasm', '--json', '--devnet', devnetDir], 90_000);
  assert.equal(published.code, 0, published.stderr);
  moduleId = (JSON.parse(published.stdout) as { moduleId: string }).moduleId;
  assert.match(moduleId, /^[A-Za-z0-9_-]{43}$/);

  const pid = await spawnWasm();
  const first = await send(pid, 'Inc');
  assert.equal(first.Error, undefined, `${String(first.Error)}\n${devnet.stderr().slice(-3000)}`);
  assert.equal(first.Messages?.[0]?.Data, 'count 1', JSON.stringify(first));
  assert.equal(first.Messages?.[0]?.Target, kit.address);

  const failed = await send(pid, 'Eval', 'Count = 1000; error("boom")');
  assert.match(String(failed.Error), /boom/);
  const second = await send(pid, 'Inc', undefined, [tag('By', '2')]);
  assert.equal(second.Messages?.[0]?.Data, 'count 3', 'the failed Eval left no trace');

  assert.match(await peek(kit, pid, '"count=" .. Count'), /count=3/);
  const page = await kit.ao.results({ process: pid, sort: 'ASC' });
  assert.ok(page.edges.every((edge) => edge.node.Error === undefined), 'errored evaluations are not listed');
  assert.ok(page.edges.some((edge) => outputText(edge.node).includes('wasm process up')), 'the boot output is there');
});

test('the MU cranks a wasm process outbox to a Lua process', async () => {
  const ao = devnet.manifest.ao!;
  const wasmPid = await spawnWasm();
  const luaPid = await kit.ao.spawn({ module: ao.modules.lua!, scheduler: ao.scheduler, signer: kit.signer, tags: processTags(devnet.manifest) });
  const setup = await send(luaPid, 'Eval', 'Heard = "nothing"; Handlers.add("heard", "Heard", function (msg) Heard = msg.Data end)');
  assert.equal(setup.Error, undefined, String(setup.Error));
  await send(wasmPid, 'Inc', undefined, [tag('By', '5')]);
  const told = await send(wasmPid, 'Tell', luaPid);
  assert.equal(told.Error, undefined, String(told.Error));
  assert.equal(told.Messages?.[0]?.Target, luaPid);
  await eventually(async () => (await peek(kit, luaPid, 'Heard')).includes('count 5'), 30_000, 'the Lua process hearing from the wasm process');
});

test('a restarted devnet restores the wasm process from its checkpoint; an empty CU rebuilds the same state', async () => {
  const pid = await spawnWasm();
  for (let i = 0; i < 3; i++) await send(pid, 'Inc');
  const before = await stateOf(devnet.manifest.ao!.cu, pid);

  await devnet.stop();
  devnet = await startDevnet(devnetDir, [], 120_000);
  kit = { ...kit, ...(await connectAo(devnet.manifest)), signer: kit.signer, address: kit.address };

  assert.match(await peek(kit, pid, '"count=" .. Count'), /count=3/);
  assert.equal((await stateOf(devnet.manifest.ao!.cu, pid)).hash, before.hash);
  assert.equal((await send(pid, 'Inc')).Messages?.[0]?.Data, 'count 4');
  const moved = await stateOf(devnet.manifest.ao!.cu, pid);

  const fresh = await startNode(['--role', 'cu', '--devnet', devnetDir, '--data-dir', join(dir, 'cu2'), '--port-base', '0'], 120_000);
  try {
    const cu2 = fresh.endpoints.find((e) => e.role === 'cu')!.url;
    assert.equal((await stateOf(cu2, pid)).hash, moved.hash, 'the SU log alone rebuilds the same memory');
  } finally {
    await fresh.stop();
  }
});
