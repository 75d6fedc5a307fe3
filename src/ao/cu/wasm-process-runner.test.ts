/**
 * The CU's path for AO wasm modules, in process: the module loader fetches a wasm module item
 * from a gateway and caches its bytes on disk, the runner evaluates a process on it from an SU
 * log, checkpoints it, and a new runner restores it from that checkpoint.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InvalidInputError } from '../../protocol/errors.ts';
import { moduleTags } from '../../protocol/ao/index.ts';
import type { SuProcess, Tag } from '../../protocol/ao/types.ts';
import { createLogger } from '../../shared/log.ts';
import type { SuClient } from '../unit-clients.ts';
import { sqliteCuStore } from './cu-store.ts';
import type { CuStore } from './cu-store.ts';
import { fakeSuClient, fakeSuSlot } from './fake-su.test-kit.ts';
import { createModuleLoader } from './module-loader.ts';
import { createProcessRunner } from './process-runner.ts';
import type { CuLimits } from './process-runner.ts';

const WASM = new Uint8Array(readFileSync(new URL('../../../fixtures/ao-wasm/levity-aos.wasm', import.meta.url)));
const id = (prefix: string) => prefix.padEnd(43, 'x');
const MODULE = id('WASMMODULE');
const NOT_WASM = id('NOTWASM');
const ODD_FORMAT = id('ODDFORMAT');
const PROCESS = id('PROCESS');
const OWNER = id('OWNER');
const LIMITS: CuLimits = { maxMemoryBytes: 256 * 1024 * 1024, maxInstructions: 1e9, defaultMemoryBytes: 64 * 1024 * 1024, defaultInstructions: 1e8, wasmMessageTimeoutMs: 5_000 };
const log = createLogger({ level: 'silent' });

type Item = { tags: Tag[]; data: Uint8Array };
const items = new Map<string, Item>([
  [MODULE, { tags: moduleTags({ format: 'wasm32-unknown-emscripten2', memoryLimit: '64-mb' }), data: WASM }],
  [NOT_WASM, { tags: moduleTags({ format: 'wasm32-unknown-emscripten2' }), data: new TextEncoder().encode('print("not wasm")') }],
  [ODD_FORMAT, { tags: moduleTags({ format: 'jvm-bytecode' }), data: new Uint8Array([1]) }],
]);

let dir: string;
let gatewayUrl: string;
let gatewayHits = 0;
let closeGateway: () => Promise<void>;

/** Answers the two calls the module loader makes: the GraphQL tags query and /raw/:id. */
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'levity-wasm-cu-'));
  const server = createServer(async (request, response) => {
    gatewayHits += 1;
    if (request.url === '/graphql') {
      let body = '';
      for await (const chunk of request) body += chunk;
      const ids = (JSON.parse(body) as { variables: { ids: string[] } }).variables.ids;
      const edges = ids.filter((i) => items.has(i)).map((i) => ({ node: { id: i, owner: { address: OWNER }, tags: items.get(i)!.tags } }));
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ data: { transactions: { edges } } }));
      return;
    }
    const item = items.get(decodeURIComponent(request.url?.replace('/raw/', '') ?? ''));
    response.statusCode = item ? 200 : 404;
    response.end(item ? item.data : '{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeGateway = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
});

after(async () => {
  await closeGateway();
  await rm(dir, { recursive: true, force: true });
});

/** An SU log: the process at nonce 0 (its Data is the aos boot code), then the messages. */
function fakeSu(entries: { tags: Tag[]; data: string }[], pagesFrom: (number | undefined)[]): SuClient {
  const t0 = 1_700_000_000_000;
  const process: SuProcess = {
    process_id: PROCESS,
    block: '1',
    owner: { address: OWNER, key: 'k' },
    tags: [
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Type', value: 'Process' },
      { name: 'Module', value: MODULE },
      { name: 'On-Boot', value: 'Data' },
    ],
    timestamp: t0,
    data: null,
    anchor: null,
    signature: null,
    target: null,
  };
  const log = entries.map((entry, nonce) =>
    fakeSuSlot(PROCESS, OWNER, {
      nonce,
      messageId: nonce === 0 ? PROCESS : id(`MSG${nonce}`),
      tags: nonce === 0 ? [...process.tags, ...entry.tags] : entry.tags,
      data: entry.data,
      timestamp: t0 + nonce,
      height: 1,
    }),
  );
  return fakeSuClient(process, log, (from) => pagesFrom.push(from));
}

const action = (name: string, data = '') => ({ tags: [{ name: 'Action', value: name }], data });
const BOOT = 'Count = 0; Handlers.add("inc", "Inc", function (msg) Count = Count + 1; msg.reply({ Data = "count " .. Count }) end)';

describe('CU with an AO wasm module', () => {
  let store: CuStore;
  before(() => {
    store = sqliteCuStore(join(dir, 'cu.sqlite'));
  });
  after(() => store.close());

  it('loads the module, evaluates, checkpoints, and restores from the checkpoint after a restart', async () => {
    const entries = [{ tags: [], data: BOOT }, action('Inc'), action('Inc'), action('Eval', 'error("boom")'), action('Inc')];
    const pagesFrom: (number | undefined)[] = [];
    const su = fakeSu(entries, pagesFrom);
    const deps = { processId: PROCESS, su, store, checkpointDir: join(dir, 'checkpoints'), limits: LIMITS, log, checkpointEvery: 2 };

    const modules = createModuleLoader({ gatewayUrl, cacheDir: join(dir, 'modules') });
    const loaded = await modules.load(MODULE);
    assert.equal(loaded.code.kind, 'wasm');
    assert.deepEqual(loaded.code.kind === 'wasm' && loaded.code.bytes, WASM);

    const runner = createProcessRunner({ ...deps, modules });
    await runner.evaluateTo({ nonce: 4 });
    assert.equal(store.evaluationOf(PROCESS, id('MSG2'))?.result.Messages[0]?.Data, 'count 2');
    assert.match(String(store.evaluationOf(PROCESS, id('MSG3'))?.result.Error), /boom/);
    assert.equal(store.evaluationOf(PROCESS, id('MSG4'))?.result.Messages[0]?.Data, 'count 3', 'the error left no trace');
    const before = await runner.state();
    assert.equal(before.nonce, 4);
    const dry = await runner.dryRun({ Tags: [{ name: 'Action', value: 'Eval' }], Data: 'return "count=" .. Count', Owner: OWNER });
    assert.equal((dry.Output as { data?: unknown }).data, 'count=3');
    await runner.close();
    assert.equal(store.progress(PROCESS)?.checkpoint?.nonce, 4);

    // A restarted CU: the module comes from the disk cache, the state from the checkpoint.
    const hits = gatewayHits;
    const restarted = createProcessRunner({ ...deps, modules: createModuleLoader({ gatewayUrl, cacheDir: join(dir, 'modules') }) });
    pagesFrom.length = 0;
    const after = await restarted.state();
    assert.equal(gatewayHits, hits, 'the module came from the disk cache');
    assert.equal(after.hash, before.hash);
    assert.deepEqual(pagesFrom, [before.timestamp], 'only the log after the checkpoint was read');
    await restarted.close();

    // A CU with no checkpoint replays the log to the same state.
    const otherStore = sqliteCuStore(join(dir, 'other.sqlite'));
    const fresh = createProcessRunner({ ...deps, store: otherStore, checkpointDir: join(dir, 'other'), modules });
    assert.equal((await fresh.state()).hash, before.hash);
    await fresh.close();
    otherStore.close();
  });

  it('refuses modules it cannot run with a typed error', async () => {
    const modules = createModuleLoader({ gatewayUrl, cacheDir: join(dir, 'modules') });
    await assert.rejects(modules.load(NOT_WASM), (error: unknown) => error instanceof InvalidInputError && error.code === 'CU_MODULE_INVALID');
    await assert.rejects(
      modules.load(ODD_FORMAT),
      (error: unknown) => error instanceof InvalidInputError && error.code === 'CU_MODULE_FORMAT_UNSUPPORTED' && /jvm-bytecode/.test(error.message),
    );
  });
});
