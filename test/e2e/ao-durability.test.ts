/**
 * AO state outlives its units: a whole-devnet restart keeps every process's state, a second CU
 * with an empty disk rebuilds the same state from the SU log alone, and bad input of every kind
 * is refused with a typed error while the devnet keeps serving other processes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDataItem, ed25519Signer, toB64Url } from '../../src/protocol/ans104/index.ts';
import { startDevnet, startNode } from './devnet-process.ts';
import type { RunningDevnet } from './devnet-process.ts';
import { connectAo, peek, processTags, tag } from './ao-helpers.ts';
import type { AoKit } from './ao-helpers.ts';

let dir: string;
let devnet: RunningDevnet;
let kit: AoKit;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-ao-durable-'));
  devnet = await startDevnet(join(dir, 'devnet'), [], 120_000);
  kit = await connectAo(devnet.manifest);
});

after(async () => {
  await devnet?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function spawnCounter(): Promise<string> {
  const ao = devnet.manifest.ao!;
  const pid = await kit.ao.spawn({ module: ao.modules.lua!, scheduler: ao.scheduler, signer: kit.signer, tags: processTags(devnet.manifest) });
  await send(pid, 'Eval', `Count = 0; Handlers.add("inc", "Inc", function (msg) Count = Count + tonumber(msg.By or "1") end)`);
  return pid;
}

async function send(process: string, action: string, data?: string, extra: { name: string; value: string }[] = []) {
  const id = await kit.ao.message({ process, signer: kit.signer, tags: [tag('Action', action), ...extra], data });
  return kit.ao.result({ message: id, process });
}

async function stateOf(cu: string, pid: string): Promise<{ hash: string; nonce: number }> {
  const response = await fetch(`${cu}/state/${pid}?format=json`);
  assert.equal(response.status, 200, `${await response.clone().text()}\n${devnet.stderr().slice(-3000)}`);
  return (await response.json()) as { hash: string; nonce: number };
}

/**
 * Posts a body and resolves with the status of the first response, even one that comes while
 * the body is still being sent: a server refusing an oversized body answers at once and stops
 * reading it after a short drain, so a slow (loaded) client may see its upload cut off after.
 */
function earlyStatus(url: string, body: Uint8Array): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'content-length': body.length } });
    req.once('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      response.once('error', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    // An error before any response fails the test; after one, the promise is already settled.
    req.on('error', (error) => reject(error));
    req.end(body);
  });
}

test('bad input gets a clear error while other processes keep working', async () => {
  const pid = await spawnCounter();
  const mu = devnet.manifest.ao!.mu;
  const postMu = (body: Uint8Array) => fetch(mu, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });

  const unsigned = await postMu(new Uint8Array(randomBytes(300)));
  assert.equal(unsigned.status, 400);
  assert.match(((await unsigned.json()) as { error: { code: string } }).error.code, /^[A-Z0-9_]+$/);

  const good = await createDataItem({
    signer: ed25519Signer(randomBytes(32)),
    target: pid,
    tags: [tag('Data-Protocol', 'ao'), tag('Type', 'Message'), tag('Action', 'Inc')],
    data: 'x',
  });
  const forged = Uint8Array.from(good.raw);
  forged[forged.length - 1]! ^= 0xff;
  assert.equal((await postMu(forged)).status, 400);

  const oversized = await earlyStatus(mu, new Uint8Array(11 * 1024 * 1024));
  assert.equal(oversized.status, 413);
  assert.match(oversized.body, /MU_BODY_TOO_LARGE/);

  const noType = await createDataItem({ signer: ed25519Signer(randomBytes(32)), target: pid, tags: [tag('Data-Protocol', 'ao')], data: 'x' });
  assert.equal((await postMu(noType.raw)).status, 400);

  await assert.rejects(
    kit.ao.message({ process: 'u'.repeat(43), signer: kit.signer, tags: [tag('Action', 'Inc')] }),
    /MU|404|not found/i,
    'a message to an unknown process is refused',
  );

  const unknownResult = await fetch(`${devnet.manifest.ao!.cu}/result/${toB64Url(randomBytes(32))}?process-id=${pid}`);
  assert.equal(unknownResult.status, 404);

  const luaError = await send(pid, 'Eval', 'error("boom")');
  assert.match(String(luaError.Error), /boom/);

  const loop = await send(pid, 'Eval', 'while true do end');
  assert.match(String(loop.Error), /instruction|limit|timeout/i);

  const bomb = await send(pid, 'Eval', 'local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 1024 * 1024) end');
  assert.match(String(bomb.Error), /memory/i);

  const after = await send(pid, 'Inc');
  assert.equal(after.Error, undefined, 'the process still works after the failures');
  assert.match(await peek(kit, pid, '"count=" .. Count'), /count=1/);
});

test('a restarted devnet keeps every process; a CU with an empty disk computes the same state', async () => {
  const pids = [await spawnCounter(), await spawnCounter()];
  for (const pid of pids) for (let i = 0; i < 3; i++) await send(pid, 'Inc', undefined, [tag('By', String(i + 1))]);
  const before = await Promise.all(pids.map((pid) => stateOf(devnet.manifest.ao!.cu, pid)));

  await devnet.stop();
  devnet = await startDevnet(join(dir, 'devnet'), [], 120_000);
  kit = { ...kit, ...(await connectAo(devnet.manifest)), signer: kit.signer, address: kit.address };

  for (const pid of pids) assert.match(await peek(kit, pid, '"count=" .. Count'), /count=6/);
  const afterRestart = await Promise.all(pids.map((pid) => stateOf(devnet.manifest.ao!.cu, pid)));
  assert.deepEqual(afterRestart.map((s) => s.hash), before.map((s) => s.hash));

  const fresh = await startNode(['--role', 'cu', '--devnet', join(dir, 'devnet'), '--data-dir', join(dir, 'cu2'), '--port-base', '0'], 120_000);
  try {
    const cu2 = fresh.endpoints.find((e) => e.role === 'cu')!.url;
    const rebuilt = await Promise.all(pids.map((pid) => stateOf(cu2, pid)));
    assert.deepEqual(rebuilt.map((s) => s.hash), before.map((s) => s.hash), 'holographic state: the SU log alone rebuilds it');
    const result = await fetch(`${cu2}/results/${pids[0]}?sort=DESC&limit=1`);
    assert.equal(result.status, 200);
    assert.equal(((await result.json()) as { edges: unknown[] }).edges.length, 1);
  } finally {
    await fresh.stop();
  }
});
