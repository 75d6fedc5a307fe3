/**
 * The CU's cron evaluation with time and block crons together, on the Lua runtime and fakes for
 * the SU log and the gateway's blocks: the order ticks fire in, what each tick message carries,
 * how results are listed, and that a CU ticking to "now" between messages ends in the same state
 * as one that evaluates straight through.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpstreamError } from '../../protocol/errors.ts';
import { LUA_MODULE_FORMAT, moduleTags } from '../../protocol/ao/index.ts';
import type { SuMessage, SuProcess, Tag } from '../../protocol/ao/types.ts';
import { createLogger } from '../../shared/log.ts';
import type { BlockMeta, SuClient } from '../unit-clients.ts';
import { luaRuntimeSource } from '../vm/lua-runtime-source.ts';
import { sqliteCuStore } from './cu-store.ts';
import type { CuStore, StoredEvaluation } from './cu-store.ts';
import { fakeSuClient, fakeSuSlot } from './fake-su.test-kit.ts';
import type { ModuleLoader } from './module-loader.ts';
import { createProcessRunner } from './process-runner.ts';
import type { CuLimits, ProcessRunnerDeps } from './process-runner.ts';

const id = (prefix: string) => prefix.padEnd(43, 'x');
const PROCESS = id('PROCESS');
const OWNER = id('OWNER');
const MODULE = id('LUAMODULE');
const T0 = 1_700_000_000_000;
const HEIGHT0 = 10;
const LIMITS: CuLimits = { maxMemoryBytes: 256 * 1024 * 1024, maxInstructions: 1e9, defaultMemoryBytes: 64 * 1024 * 1024, defaultInstructions: 1e8 };
const log = createLogger({ level: 'silent' });

const modules: ModuleLoader = {
  load: async () => ({ id: MODULE, owner: OWNER, tags: moduleTags({ format: LUA_MODULE_FORMAT }), format: LUA_MODULE_FORMAT, code: { kind: 'lua', source: luaRuntimeSource() } }),
};

/** Prints what each tick saw, so results show it; `Dump` answers the whole sequence. */
const BOOT = `Seen = {}
local function seen(kind)
  return function (msg)
    local entry = string.format("%s:%d:%d", kind, msg.Timestamp, msg["Block-Height"])
    table.insert(Seen, entry)
    print(entry)
  end
end
Handlers.add("time", "TimeTick", seen("t"))
Handlers.add("block", "BlockTick", seen("b"))
Handlers.add("dump", "Dump", function (msg) msg.reply({ Data = table.concat(Seen, ",") }) end)`;

/** Block h is stamped (h - 10) * 2 - 1 seconds after the process: ahead of the SU's slots later on. */
const blockTs = (height: number) => T0 + ((height - HEIGHT0) * 2 - 1) * 1000;

/** The SU's log for one process; `add` schedules a message later, as a live SU would. */
function fakeSu(cronTags: Tag[]) {
  const processTags: Tag[] = [
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Type', value: 'Process' },
    { name: 'Module', value: MODULE },
    { name: 'On-Boot', value: 'Data' },
    ...cronTags,
  ];
  const process: SuProcess = {
    process_id: PROCESS,
    block: String(HEIGHT0),
    owner: { address: OWNER, key: 'k' },
    tags: processTags,
    timestamp: T0,
    data: BOOT,
    anchor: null,
    signature: null,
    target: null,
  };
  const slot = (nonce: number, messageId: string, tags: Tag[], data: string, timestamp: number, height: number) =>
    fakeSuSlot(PROCESS, OWNER, { nonce, messageId, tags, data, timestamp, height });
  const entries: SuMessage[] = [slot(0, PROCESS, processTags, BOOT, T0, HEIGHT0)];
  const su = fakeSuClient(process, entries);
  return {
    su,
    add(tags: Tag[], timestamp: number, height: number) {
      entries.push(slot(entries.length, id(`MSG${entries.length}`), tags, '', timestamp, height));
    },
  };
}

/** The gateway's blocks, as the CU's client gives them; `failNext` makes the next call fail like a gateway that is behind. */
function fakeBlocks() {
  const asked: number[][] = [];
  let failNext = false;
  return {
    asked,
    failNext: () => (failNext = true),
    client: {
      async blocksAt(heights: readonly number[]): Promise<Map<number, BlockMeta>> {
        asked.push([...heights]);
        if (failNext) {
          failNext = false;
          throw new UpstreamError('AO_GATEWAY_BLOCK_MISSING', 'the gateway has no block yet');
        }
        return new Map(heights.map((height) => [height, { height, timestamp: blockTs(height) }]));
      },
    },
  };
}

const MIXED: Tag[] = [
  { name: 'Cron-Interval', value: '3-seconds' },
  { name: 'Cron-Tag-Action', value: 'TimeTick' },
  { name: 'Cron-Interval', value: '2-blocks' },
  { name: 'Cron-Tag-Action', value: 'BlockTick' },
];
const DUMP = [{ name: 'Action', value: 'Dump' }];

/** What a listing shows of each evaluation: cron name or message, listed time (s after T0), height, printed text. */
function summary(rows: StoredEvaluation[]) {
  return rows.map((row) => ({
    what: row.cron ?? row.messageId?.slice(0, 4),
    at: (row.timestamp - T0) / 1000,
    height: row.blockHeight,
    printed: typeof row.result.Output === 'object' && row.result.Output !== null ? String((row.result.Output as { data?: unknown }).data ?? '').trim() : '',
  }));
}

describe('CU cron with time and block crons together', () => {
  let dir: string;
  const stores: CuStore[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'levity-cu-cron-'));
  });
  after(async () => {
    for (const store of stores) store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function runner(name: string, su: SuClient, extra: Partial<ProcessRunnerDeps> = {}) {
    const store = sqliteCuStore(join(dir, `${name}.sqlite`));
    stores.push(store);
    const deps: ProcessRunnerDeps = { processId: PROCESS, su, modules, store, checkpointDir: join(dir, name), limits: LIMITS, log, ...extra };
    return { run: createProcessRunner(deps), store, list: () => store.list({ processId: PROCESS, sort: 'ASC', limit: 1000 }) };
  }

  it('fires block ticks at (a, b] between messages, merged with time ticks by timestamp then height', async () => {
    const { su, add } = fakeSu(MIXED);
    add(DUMP, T0 + 20_500, 20);
    const blocks = fakeBlocks();
    const cu = runner('straight', su, { blocks: blocks.client });
    await cu.run.evaluateTo({ nonce: 1 });

    const rows = summary(cu.list());
    // Time ticks every 3 s up to the message; blocks 12..20 every 2, each at its own block's time.
    // At 3 s the time tick goes before block 12; a time tick carries the last block evaluated; a
    // block tick is listed under the time of the evaluation before it.
    const t = (s: number, height: number) => ({ what: '0-3-seconds', at: s, height, printed: `t:${T0 + s * 1000}:${height}` });
    const b = (height: number, at: number) => ({ what: '1-2-blocks', at, height, printed: `b:${blockTs(height)}:${height}` });
    assert.deepEqual(rows.slice(1, -1), [t(3, 10), b(12, 3), t(6, 12), b(14, 6), t(9, 14), b(16, 9), t(12, 16), t(15, 16), b(18, 15), t(18, 18), b(20, 18)]);
    assert.equal(rows.at(-1)!.what, 'MSG1');
    assert.equal(rows.at(-1)!.height, 20);
    assert.deepEqual(blocks.asked, [[12, 14, 16, 18, 20]], 'one request for the window');
  });

  it('ends in the same state and listing when it ticks to "now" between messages', async () => {
    const straightSu = fakeSu(MIXED);
    straightSu.add(DUMP, T0 + 20_500, 20);
    const straight = runner('straight-2', straightSu.su, { blocks: fakeBlocks().client });
    await straight.run.evaluateTo({ nonce: 1 });

    // The SU reports now = 13 s at height 14, not having seen block 16 (stamped 11 s) yet. Time
    // ticks stop 5 s short of now (8 s), so t12 cannot go before b16; blocks stamped after 8 s wait too.
    const live = fakeSu(MIXED);
    const ticking = runner('ticking', live.su, { blocks: fakeBlocks().client });
    await ticking.run.evaluateTo({ latest: true, until: { timestamp: T0 + 13_000, blockHeight: 14 } });
    assert.deepEqual(summary(ticking.list()).slice(1).map((row) => row.printed), [`t:${T0 + 3000}:10`, `b:${blockTs(12)}:12`, `t:${T0 + 6000}:12`, `b:${blockTs(14)}:14`]);
    await ticking.run.evaluateTo({ latest: true, until: { timestamp: T0 + 14_000, blockHeight: 16 } });
    live.add(DUMP, T0 + 20_500, 20);
    await ticking.run.evaluateTo({ nonce: 1 });

    assert.deepEqual(ticking.list(), straight.list(), 'the same evaluations, cursors and results');
    assert.equal((await ticking.run.state()).hash, (await straight.run.state()).hash);
    const dump = ticking.list().at(-1)!.result.Messages[0]!.Data;
    assert.equal(String(dump).split(',').length, 11);
    await Promise.all([ticking.run.close(), straight.run.close()]);
  });

  it('lists block ticks in order even when the chain runs ahead of the SU clock, and carries the block time in the message', async () => {
    const { su, add } = fakeSu([{ name: 'Cron-Interval', value: '2-blocks' }, { name: 'Cron-Tag-Action', value: 'BlockTick' }]);
    add(DUMP, T0 + 5_500, 16);
    const cu = runner('ahead', su, { blocks: fakeBlocks().client });
    await cu.run.evaluateTo({ nonce: 1 });
    const rows = summary(cu.list());
    // Blocks 14 and 16 are stamped 7 s and 11 s, after the message at 5.5 s that follows them:
    // listed under the process's time, the evaluation before them, so listings follow evaluation order.
    assert.deepEqual(rows.map((row) => [row.what, row.at, row.printed]), [
      ['PROC', 0, ''],
      ['0-2-blocks', 0, `b:${blockTs(12)}:12`],
      ['0-2-blocks', 0, `b:${blockTs(14)}:14`],
      ['0-2-blocks', 0, `b:${blockTs(16)}:16`],
      ['MSG1', 5.5, ''],
    ]);
    // Ticking to now fires the blocks the SU has reached, whatever their time.
    add(DUMP, T0 + 30_000, 17);
    await cu.run.evaluateTo({ latest: true, until: { timestamp: T0 + 31_000, blockHeight: 20 } });
    assert.deepEqual(summary(cu.list()).slice(5).map((row) => [row.what, row.at, row.height]), [['MSG2', 30, 17], ['0-2-blocks', 30, 18], ['0-2-blocks', 30, 20]]);
    await cu.run.close();
  });

  it('ticks a block-only process to the SU height at once, listed as a straight evaluation lists it', async () => {
    const BLOCKS_ONLY: Tag[] = [{ name: 'Cron-Interval', value: '2-blocks' }, { name: 'Cron-Tag-Action', value: 'BlockTick' }];
    const straightSu = fakeSu(BLOCKS_ONLY);
    straightSu.add(DUMP, T0 + 12_500, 16);
    const straight = runner('blocks-straight', straightSu.su, { blocks: fakeBlocks().client });
    await straight.run.evaluateTo({ nonce: 1 });

    const live = fakeSu(BLOCKS_ONLY);
    const ticking = runner('blocks-ticking', live.su, { blocks: fakeBlocks().client });
    // Now is 4 s at height 14: blocks 12 and 14 fire, though block 14 is stamped 7 s.
    await ticking.run.evaluateTo({ latest: true, until: { timestamp: T0 + 4_000, blockHeight: 14 } });
    assert.deepEqual(summary(ticking.list()).map((row) => [row.what, row.height]), [['PROC', 10], ['0-2-blocks', 12], ['0-2-blocks', 14]]);
    await ticking.run.evaluateTo({ latest: true, until: { timestamp: T0 + 12_000, blockHeight: 16 } });
    live.add(DUMP, T0 + 12_500, 16);
    await ticking.run.evaluateTo({ nonce: 1 });
    assert.deepEqual(ticking.list(), straight.list());
    await Promise.all([ticking.run.close(), straight.run.close()]);
  });

  it('evaluates nothing without block times, and carries on once the gateway has them', async () => {
    const reference = fakeSu(MIXED);
    reference.add(DUMP, T0 + 20_500, 20);
    const straight = runner('reference', reference.su, { blocks: fakeBlocks().client });
    await straight.run.evaluateTo({ nonce: 1 });

    const blocks = fakeBlocks();
    const cu = runner('retry', reference.su, { blocks: blocks.client });
    blocks.failNext();
    await assert.rejects(cu.run.evaluateTo({ nonce: 1 }), (error: unknown) => error instanceof UpstreamError && error.code === 'AO_GATEWAY_BLOCK_MISSING');
    assert.deepEqual(summary(cu.list()).map((row) => row.what), ['PROC'], 'only the boot; no tick ran without its block');
    await cu.run.evaluateTo({ nonce: 1 });
    assert.deepEqual(cu.list(), straight.list());
    await Promise.all([cu.run.close(), straight.run.close()]);
  });

  it('ignores block crons, keeping time crons, when the CU has no blocks client', async () => {
    const { su, add } = fakeSu(MIXED);
    add(DUMP, T0 + 20_500, 20);
    const cu = runner('no-blocks', su);
    await cu.run.evaluateTo({ nonce: 1 });
    assert.deepEqual(
      summary(cu.list()).map((row) => row.what),
      ['PROC', ...Array.from({ length: 6 }, () => '0-3-seconds'), 'MSG1'],
    );
    await cu.run.close();
  });
});
