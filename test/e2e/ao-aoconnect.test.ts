/**
 * AO compute end to end with the real @permaweb/aoconnect 0.0.98 against `levity up`: spawn on
 * the built-in module, message → result, results paging, dryrun, process-to-process ping-pong
 * through MU cranking, a process spawning another, cron through monitor, a Lua token, and a
 * process booted from another item's code (On-Boot=<id>).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer } from '../../src/protocol/ans104/index.ts';
import { startDevnet } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { connectAo, eventually, outputText, peek, processTags, tag } from './ao-helpers.ts';
import type { AoKit } from './ao-helpers.ts';

const TOKEN_LUA = new URL('../../src/ao/vm/fixtures/token.lua', import.meta.url);

let dir: string;
let devnet: RunningDevnet;
let kit: AoKit;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-ao-'));
  devnet = await startDevnet(dir, [], 120_000);
  kit = await connectAo(devnet.manifest);
});

after(async () => {
  await devnet?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function spawnProcess(extra: { tags?: { name: string; value: string }[]; data?: string } = {}): Promise<string> {
  const { ao } = devnet.manifest;
  return kit.ao.spawn({
    module: ao!.modules.lua!,
    scheduler: ao!.scheduler,
    signer: kit.signer,
    tags: processTags(devnet.manifest, extra.tags),
    data: extra.data,
  });
}

async function evalLua(process: string, code: string) {
  const id = await kit.ao.message({ process, signer: kit.signer, tags: [tag('Action', 'Eval')], data: code });
  return kit.ao.result({ message: id, process });
}

test('spawn on the built-in module, then message → result with the aos reply layout', async () => {
  const pid = await spawnProcess({ tags: [tag('Name', 'pinger')] });
  assert.match(pid, /^[A-Za-z0-9_-]{43}$/);

  const added = await evalLua(pid, `Handlers.add("ping", "Ping", function (msg) msg.reply({ Data = "pong" }) end)`);
  assert.equal(added.Error, undefined, String(added.Error));

  const id = await kit.ao.message({ process: pid, signer: kit.signer, tags: [tag('Action', 'Ping')] });
  const result = await kit.ao.result({ message: id, process: pid });
  assert.equal(result.Error, undefined);
  const reply = result.Messages?.[0];
  assert.ok(reply, 'the handler replied');
  assert.equal(reply.Data, 'pong');
  assert.match(reply.Anchor ?? '', /^\d{32}$/);
  const tags = Object.fromEntries(reply.Tags.map((t) => [t.name, t.value]));
  assert.equal(tags['Data-Protocol'], 'ao');
  assert.equal(tags.Type, 'Message');
  assert.ok(tags.Reference);

  const printed = await evalLua(pid, 'return Name');
  assert.match(outputText(printed), /pinger/);
});

test('results pages forwards and backwards; dryrun reads state without changing it', async () => {
  const pid = await spawnProcess();
  await evalLua(pid, `Count = 0; Handlers.add("inc", "Inc", function (msg) Count = Count + 1; print("count " .. Count) end)`);
  for (let i = 0; i < 4; i++) {
    const id = await kit.ao.message({ process: pid, signer: kit.signer, tags: [tag('Action', 'Inc')] });
    await kit.ao.result({ message: id, process: pid });
  }
  const asc = await kit.ao.results({ process: pid, sort: 'ASC', limit: 3 });
  assert.equal(asc.edges.length, 3);
  const rest = await kit.ao.results({ process: pid, sort: 'ASC', from: asc.edges.at(-1)!.cursor, limit: 10 });
  // Boot, Eval and four increments: six evaluations in all.
  assert.equal(asc.edges.length + rest.edges.length, 6);
  const desc = await kit.ao.results({ process: pid, sort: 'DESC', limit: 1 });
  assert.match(outputText(desc.edges[0]!.node), /count 4/);

  const dry = await kit.ao.dryrun({ process: pid, tags: [tag('Action', 'Inc')] });
  assert.match(outputText(dry), /count 5/);
  const again = await kit.ao.dryrun({ process: pid, tags: [tag('Action', 'Inc')] });
  assert.match(outputText(again), /count 5/, 'a dry run never persists');
});

test('two processes play ping-pong through MU cranking', async () => {
  const [a, b] = await Promise.all([spawnProcess(), spawnProcess()]);
  await evalLua(b, `Handlers.add("ping", "Ping", function (msg) ao.send({ Target = msg.From, Action = "Pong", Data = "pong" }) end)`);
  await evalLua(a, `Pongs = 0; Handlers.add("pong", "Pong", function (msg) Pongs = Pongs + 1 end)`);
  await evalLua(a, `ao.send({ Target = "${b}", Action = "Ping" })`);
  const pongs = await eventually(async () => {
    const text = await peek(kit, a, '"pongs=" .. Pongs');
    return text.includes('pongs=1') ? text : undefined;
  }, 30_000, 'a Pong back at A');
  assert.match(pongs, /pongs=1/);
});

test('a process spawns another and hears Spawned with the child id', async () => {
  const parent = await spawnProcess();
  await evalLua(
    parent,
    `Child = nil
     Handlers.add("spawned", "Spawned", function (msg) Child = msg.Process end)
     Spawn(ao.env.Module.Id, { Data = "print('child up')", ["On-Boot"] = "Data", Authority = "${devnet.manifest.ao!.authority}" })`,
  );
  const child = await eventually(async () => {
    const text = await peek(kit, parent, '"child=" .. tostring(Child)');
    return /child=([A-Za-z0-9_-]{43})/.exec(text)?.[1];
  }, 30_000, 'the Spawned notice');
  // The MU cranks the child's boot like any other message, so its result appears on its own.
  const booted = await eventually(async () => (await kit.ao.results({ process: child, sort: 'ASC', limit: 1 })).edges[0], 20_000, 'the child boot');
  assert.match(outputText(booted.node), /child up/);
});

test('cron ticks reach a monitored process', async () => {
  const pid = await spawnProcess({ tags: [tag('Cron-Interval', '1-second'), tag('Cron-Tag-Action', 'Tick')] });
  await evalLua(pid, `Ticks = 0; Handlers.add("tick", "Tick", function (msg) Ticks = Ticks + 1 end)`);
  await kit.ao.monitor({ process: pid, signer: kit.signer });
  const ticks = await eventually(async () => {
    const count = Number(/ticks=(\d+)/.exec(await peek(kit, pid, '"ticks=" .. Ticks'))?.[1] ?? 0);
    return count >= 2 ? count : undefined;
  }, 30_000, 'two cron ticks');
  assert.ok(ticks >= 2);
  await kit.ao.unmonitor({ process: pid, signer: kit.signer });
});

test('a Lua token: balances, transfers with notices, balance queries by dryrun', async () => {
  const source = await readFile(TOKEN_LUA, 'utf8');
  const pid = await spawnProcess({ tags: [tag('On-Boot', 'Data'), tag('Name', 'Levity Token')], data: source });
  const owner = kit.address;
  assert.equal(await peek(kit, pid, 'Owner'), owner);

  const mint = await kit.ao.message({ process: pid, signer: kit.signer, tags: [tag('Action', 'Mint'), tag('Quantity', '1000')] });
  const minted = await kit.ao.result({ message: mint, process: pid });
  assert.equal(minted.Error, undefined, String(minted.Error));

  const recipient = 'r'.repeat(43);
  const transfer = await kit.ao.message({
    process: pid,
    signer: kit.signer,
    tags: [tag('Action', 'Transfer'), tag('Recipient', recipient), tag('Quantity', '250')],
  });
  const sent = await kit.ao.result({ message: transfer, process: pid });
  const actions = (sent.Messages ?? []).map((m) => m.Tags.find((t) => t.name === 'Action')?.value);
  assert.ok(actions.includes('Debit-Notice'), `actions: ${actions.join(',')}`);
  assert.ok(actions.includes('Credit-Notice'));

  const balance = async (target: string) => {
    const dry = await kit.ao.dryrun({ process: pid, tags: [tag('Action', 'Balance'), tag('Target', target)] });
    const reply = dry.Messages?.[0];
    return reply?.Tags.find((t) => t.name === 'Balance')?.value ?? reply?.Data;
  };
  assert.equal(await balance(owner), '750');
  assert.equal(await balance(recipient), '250');

  const overdraw = await kit.ao.message({
    process: pid,
    signer: kit.signer,
    tags: [tag('Action', 'Transfer'), tag('Recipient', recipient), tag('Quantity', '100000')],
  });
  const refused = await kit.ao.result({ message: overdraw, process: pid });
  assert.equal(await balance(owner), '750', `an overdraft moves nothing: ${JSON.stringify(refused.Messages)}`);
});

test('On-Boot=<item id> boots the process with that item\'s code, read from the gateway', async () => {
  const source = `Greeting = "booted from an item"; Handlers.add("greet", "Greet", function (msg) msg.reply({ Data = Greeting }) end)`;
  const item = await createDataItem({ signer: ed25519Signer(randomBytes(32)), tags: [tag('Content-Type', 'text/x-lua')], data: source });
  const posted = await fetch(`${devnet.manifest.ao!.gateway}/tx`, { method: 'POST', body: item.raw, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(posted.status, 200, await posted.clone().text());

  const pid = await spawnProcess({ tags: [tag('On-Boot', item.id)] });
  const greet = await kit.ao.message({ process: pid, signer: kit.signer, tags: [tag('Action', 'Greet')] });
  const reply = await kit.ao.result({ message: greet, process: pid });
  assert.equal(reply.Messages?.[0]?.Data, 'booted from an item', JSON.stringify(reply));

  const missing = await spawnProcess({ tags: [tag('On-Boot', 'm'.repeat(43))] });
  const boot = await eventually(async () => (await kit.ao.results({ process: missing, sort: 'ASC', limit: 1 })).edges[0], 20_000, 'the boot result');
  assert.match(outputText(boot.node), /no item with that id/);
});
