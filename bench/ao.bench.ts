/**
 * AO compute: how fast one CU core evaluates messages through the full aos pipeline (JSON in,
 * normalise, trust, handlers, reply, JSON out), and how long a CU with an empty disk takes to
 * rebuild a process from a long SU log (`BENCH_AO_MESSAGES`, default 100k) over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCu, luaRuntimeSource } from '../src/ao/index.ts';
import { createLuaProcess } from '../src/ao/vm/lua-process.ts';
import { createWasmProcess } from '../src/ao/vm/wasm-process.ts';
import { createDataItem, ed25519Signer, parseDataItem, toB64Url } from '../src/protocol/ans104/index.ts';
import type { AoEnv, AoMessage, EvalResult } from '../src/protocol/ao/types.ts';
import { createLogger } from '../src/shared/log.ts';
import { report } from './report.ts';
import { startDevnet } from '../test/e2e/devnet-process.ts';

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
const MESSAGES = Number(process.env.BENCH_AO_MESSAGES ?? 100_000);
const AOS_WASM = new URL('../fixtures/ao-wasm/levity-aos.wasm', import.meta.url);
const HANDLER = `Handlers.add("ping", "Ping", function (msg) Count = (Count or 0) + 1; msg.reply({ Data = "pong" }) end)`;

type Evaluate = (message: AoMessage, env: AoEnv) => EvalResult | Promise<EvalResult>;

/** A live process evaluating Ping messages that each reply: msg/s after a warm-up. */
async function evaluatorThroughput(evaluate: Evaluate): Promise<number> {
  const owner = toB64Url(randomBytes(32));
  const pid = toB64Url(randomBytes(32));
  const env: AoEnv = {
    Process: { Id: pid, Owner: owner, Tags: [{ name: 'Type', value: 'Process' }] },
    Module: { Id: toB64Url(randomBytes(32)), Owner: owner, Tags: [] },
  };
  const base = { Owner: owner, From: owner, Target: pid, 'Block-Height': 1, Cron: false };
  await evaluate({ ...base, Id: pid, Data: '', Tags: [{ name: 'Type', value: 'Process' }], Timestamp: 1 } as AoMessage, env);
  await evaluate({ ...base, Id: toB64Url(randomBytes(32)), Data: HANDLER, Tags: [{ name: 'Action', value: 'Eval' }], Timestamp: 2 }, env);
  const messages: AoMessage[] = Array.from({ length: 20_000 }, (_, i) => ({
    ...base,
    Id: toB64Url(randomBytes(32)),
    Data: 'ping',
    Tags: [{ name: 'Action', value: 'Ping' }, { name: 'Data-Protocol', value: 'ao' }, { name: 'Type', value: 'Message' }],
    Timestamp: 3 + i,
    Nonce: 2 + i,
  }));
  for (const message of messages.slice(0, 2000)) await evaluate(message, env); // warm-up
  const start = process.hrtime.bigint();
  for (const message of messages.slice(2000)) {
    const result = await evaluate(message, env);
    if (result.Error !== undefined) throw new Error(`evaluation failed: ${String(result.Error)}`);
  }
  return 18_000 / seconds(start);
}

async function postAll(url: string, items: Uint8Array[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++]!;
        const response = await fetch(url, { method: 'POST', body: item, headers: { 'content-type': 'application/octet-stream' } });
        if (!response.ok) throw new Error(`SU answered ${response.status}: ${await response.text()}`);
        await response.arrayBuffer();
      }
    }),
  );
}

const dir = await mkdtemp(join(tmpdir(), 'levity-ao-bench-'));
let devnet: Awaited<ReturnType<typeof startDevnet>> | undefined;
try {
  const lua = await createLuaProcess(luaRuntimeSource(), { memoryLimitBytes: 256 * 1024 * 1024, instructionLimit: 100_000_000 });
  const rate = await evaluatorThroughput((message, env) => lua.evaluate(message, env));
  lua.close();
  report({ bench: 'ao', name: 'CU evaluation, Ping handler that replies', value: rate, unit: 'msg/s', target: '≥ 5000 msg/s per core', note: 'one live Lua VM, full aos pipeline, one thread' });

  const wasm = await createWasmProcess(new Uint8Array(await readFile(AOS_WASM)), { memoryLimitBytes: 256 * 1024 * 1024, timeoutMs: 10_000 });
  const wasmRate = await evaluatorThroughput((message, env) => wasm.evaluate(message, env));
  await wasm.close();
  report({ bench: 'ao', name: 'CU evaluation, same handler, AO WASM module', value: wasmRate, unit: 'msg/s', note: 'fixtures/ao-wasm/levity-aos.wasm (Lua 5.4 + our runtime, emcc -O2), live instance in a worker' });

  devnet = await startDevnet(join(dir, 'devnet'), [], 120_000);
  const ao = devnet.manifest.ao!;
  const signer = ed25519Signer(randomBytes(32));
  const spawn = await createDataItem({
    signer,
    tags: [
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Variant', value: 'ao.TN.1' },
      { name: 'Type', value: 'Process' },
      { name: 'Module', value: ao.modules.lua! },
      { name: 'Scheduler', value: ao.scheduler },
      { name: 'On-Boot', value: 'Data' },
    ],
    data: HANDLER,
  });
  const signStart = process.hrtime.bigint();
  const items: Uint8Array[] = [];
  for (let i = 0; i < MESSAGES; i++) {
    const item = await createDataItem({
      signer,
      target: spawn.id,
      tags: [
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Variant', value: 'ao.TN.1' },
        { name: 'Type', value: 'Message' },
        { name: 'Action', value: 'Ping' },
        { name: 'Seq', value: String(i) },
      ],
      data: 'ping',
    });
    items.push(item.raw);
  }
  const signSeconds = seconds(signStart);
  await postAll(ao.su, [spawn.raw], 1);
  const scheduleStart = process.hrtime.bigint();
  await postAll(ao.su, items, 32);
  const scheduled = MESSAGES / seconds(scheduleStart);
  report({ bench: 'ao', name: `SU scheduling, ${MESSAGES} signed messages over HTTP`, value: scheduled, unit: 'msg/s', note: `durable before each answer; 32 in flight; signing took ${signSeconds.toFixed(1)} s (not timed)` });

  // A CU that has never seen the process: module from the gateway, every slot from the SU.
  const cu = createCu({ dataDir: join(dir, 'cold-cu'), host: '127.0.0.1', port: 0, log: createLogger({ level: 'silent' }), suUrl: ao.su, gatewayUrl: ao.gateway, resultTimeoutMs: 600_000 });
  await cu.start();
  try {
    const last = items.at(-1)!;
    const lastId = parseDataItem(last).id;
    const start = process.hrtime.bigint();
    const response = await fetch(`${cu.url}/result/${lastId}?process-id=${spawn.id}`);
    const body = (await response.json()) as { Messages?: { Data?: string }[]; Error?: unknown };
    const replay = seconds(start);
    if (!response.ok || body.Messages?.[0]?.Data !== 'pong') throw new Error(`cold replay gave ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
    report({ bench: 'ao', name: `cold replay of ${MESSAGES} messages (empty CU, over HTTP)`, value: replay, unit: 's', target: MESSAGES === 100_000 ? '≤ 30 s' : undefined, note: `${(MESSAGES / replay).toFixed(0)} msg/s incl. SU paging and result storage` });
  } finally {
    await cu.stop();
  }
} finally {
  await devnet?.stop();
  await rm(dir, { recursive: true, force: true });
}
