/** Fakes of the SU and CU, and helpers, for the MU's own tests (real units run in test/e2e). */
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { dataItemTarget, ed25519Signer, ownerAddress, parseDataItem, verifyDataItem } from '../../protocol/ans104/index.ts';
import type { DataItem, Tag } from '../../protocol/ans104/types.ts';
import { tagValue } from '../../protocol/ao/index.ts';
import type { EvalResult } from '../../protocol/ao/types.ts';
import { createLogger } from '../../shared/log.ts';

export const log = createLogger({ level: 'silent' });
export const MODULE = 'M'.repeat(42) + 'A';
export const SU_ADDRESS = 'S'.repeat(42) + 'A';
export const user = ed25519Signer(new Uint8Array(randomBytes(32)));

export async function waitFor<T>(check: () => T | undefined | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An SU that schedules whatever verifies, refuses duplicates (409) and unknown processes (404). */
export function fakeSu() {
  const items = new Map<string, DataItem>();
  const processes = new Map<string, DataItem>();
  const assigns: { processId: string; messageId: string; baseLayer: boolean; exclude: string | undefined }[] = [];
  /** down: every POST fails; refusePushes: only items the MU signed fail (user items still land). */
  const state = { down: false, refusePushes: false, refusedWhileDown: 0 };
  const byUser = (item: DataItem) => item.owner.length === user.publicKey.length && item.owner.every((b, i) => b === user.publicKey[i]);
  const app = new Hono();
  app.get('/', (c) => c.json({ timestamp: String(Date.now()), address: SU_ADDRESS }));
  app.post('/', async (c) => {
    if (state.down) {
      state.refusedWhileDown++;
      return c.json({ error: 'maintenance' }, 503);
    }
    const processId = c.req.query('process-id');
    const assign = c.req.query('assign');
    if (processId !== undefined || assign !== undefined) {
      if (!processId || !assign) return c.json({ error: 'both or neither' }, 400);
      if (!processes.has(processId)) return c.json({ error: 'process not found' }, 404);
      assigns.push({ processId, messageId: assign, baseLayer: c.req.query('base-layer') !== undefined, exclude: c.req.query('exclude') });
      return c.json({ timestamp: Date.now(), id: 'A'.repeat(42) + String(assigns.length % 10).replace(/\d/, 'A') });
    }
    let item: DataItem;
    try {
      item = parseDataItem(new Uint8Array(await c.req.arrayBuffer()));
    } catch {
      return c.json({ error: 'malformed' }, 400);
    }
    if (!verifyDataItem(item)) return c.json({ error: 'bad signature' }, 400);
    if (state.refusePushes && !byUser(item)) {
      state.refusedWhileDown++;
      return c.json({ error: 'maintenance' }, 503);
    }
    if (items.has(item.id)) return c.json({ error: 'duplicate' }, 409);
    const type = tagValue(item.tags, 'Type');
    const target = dataItemTarget(item);
    if (type === 'Message' && (!target || !processes.has(target))) return c.json({ error: 'process not found' }, 404);
    items.set(item.id, item);
    if (type === 'Process') processes.set(item.id, item);
    return c.json({ timestamp: Date.now(), id: item.id });
  });
  app.get('/processes/:pid', (c) => {
    const process = processes.get(c.req.param('pid'));
    if (!process) return c.json({ error: 'not found' }, 404);
    return c.json({
      process_id: process.id,
      block: '1',
      owner: { address: ownerAddress(process.signatureType, process.owner), key: '' },
      tags: process.tags,
      timestamp: Date.now(),
      data: null,
      anchor: null,
      signature: null,
      target: null,
    });
  });
  app.get('/:id', (c) => {
    const id = c.req.param('id');
    const processId = c.req.query('process-id') ?? id;
    const item = items.get(id);
    const assigned = assigns.some((entry) => entry.processId === processId && entry.messageId === id);
    if (!assigned && (!item || (item.id !== processId && dataItemTarget(item) !== processId))) return c.json({ error: 'not found' }, 404);
    return c.json({ message: null, assignment: { id } });
  });
  /** Items the MU signed, in arrival order. */
  const pushed = () => [...items.values()].filter((item) => !byUser(item));
  return { app, items, processes, assigns, state, pushed };
}

/** A CU that answers configured results (empty ones otherwise) and serves cron pages. */
export function fakeCu() {
  const results = new Map<string, Partial<EvalResult>>();
  const asked: string[] = [];
  const cronCalls: { processId: string; from: string | undefined; limit: string | undefined }[] = [];
  const cron = new Map<string, { cursor: string; node: Partial<EvalResult> }[]>();
  const latest = new Map<string, string>();
  const app = new Hono();
  app.get('/result/:id', (c) => {
    const processId = c.req.query('process-id') ?? '';
    asked.push(`${processId}:${c.req.param('id')}:${c.req.query('no-busy')}`);
    return c.json(results.get(`${processId}:${c.req.param('id')}`) ?? { Messages: [], Spawns: [], Assignments: [], Output: '' });
  });
  app.get('/results/:pid', (c) => {
    const cursor = latest.get(c.req.param('pid'));
    return c.json({ pageInfo: { hasNextPage: false }, edges: cursor ? [{ cursor, node: { Messages: [], Spawns: [], Output: '' } }] : [] });
  });
  app.get('/cron/:pid', (c) => {
    const processId = c.req.param('pid');
    const from = c.req.query('from');
    cronCalls.push({ processId, from, limit: c.req.query('limit') });
    const edges = cron.get(processId) ?? [];
    const start = from === undefined ? 0 : edges.findIndex((edge) => edge.cursor === from) + 1;
    return c.json({ pageInfo: { hasNextPage: false }, edges: edges.slice(start) });
  });
  return { app, results, asked, cron, cronCalls, latest };
}

export const aoTags = (type: 'Process' | 'Message', extra: Tag[] = []): Tag[] => [
  ...extra,
  { name: 'SDK', value: 'aoconnect' },
  { name: 'Data-Protocol', value: 'ao' },
  { name: 'Variant', value: 'ao.TN.1' },
  { name: 'Type', value: type },
  ...(type === 'Process' ? [{ name: 'Module', value: MODULE }, { name: 'Scheduler', value: SU_ADDRESS }] : []),
];

export const values = (item: DataItem, name: string) => item.tags.filter((tag) => tag.name === name).map((tag) => tag.value);

