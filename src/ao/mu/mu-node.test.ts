/**
 * The MU over real sockets against tiny fake SU and CU servers that answer the spec shapes
 * and record what the MU sends them (fakes are for this unit test only; test/e2e runs the real
 * units).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { createDataItem, dataItemTarget, ownerAddress, verifyDataItem } from '../../protocol/ans104/index.ts';
import type { DataItem, Tag } from '../../protocol/ans104/types.ts';
import { tagValue } from '../../protocol/ao/index.ts';
import { listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import { createMu } from './mu-node.ts';
import type { Mu } from './mu-node.ts';
import { MODULE, SU_ADDRESS, aoTags, fakeCu, fakeSu, log, user, values, waitFor } from './mu-test-kit.ts';

describe('MU node', () => {
  let su: ReturnType<typeof fakeSu>;
  let cu: ReturnType<typeof fakeCu>;
  let suHttp: RunningHttpServer;
  let cuHttp: RunningHttpServer;
  let dataDir: string;
  let mu: Mu;

  const startMu = async () => {
    mu = createMu({
      dataDir,
      host: '127.0.0.1',
      port: 0,
      log,
      suUrl: suHttp.url,
      cuUrl: cuHttp.url,
      cronPollMs: 40,
      retry: { baseMs: 20, maxMs: 80, maxAttempts: 100 },
    });
    await mu.start();
  };
  const post = (path: string, body: Uint8Array | string = new Uint8Array(), method = 'POST') =>
    fetch(`${mu.url}${path}`, { method, headers: { 'content-type': 'application/octet-stream', accept: 'application/json' }, body });
  const spawn = async (extra: Tag[] = []) => {
    // A fresh anchor per spawn: ed25519 is deterministic, so equal fields would mean equal ids.
    const item = await createDataItem({ signer: user, anchor: randomBytes(16).toString('hex'), tags: aoTags('Process', extra), data: 'return 1' });
    const response = await post('/', item.raw);
    assert.equal(response.status, 202, await response.clone().text());
    return item.id;
  };
  const send = async (processId: string, extra: Tag[] = [{ name: 'Action', value: 'Ping' }]) => {
    const item = await createDataItem({ signer: user, target: processId, anchor: randomBytes(16).toString('hex'), tags: aoTags('Message', extra), data: 'hi' });
    const response = await post('/', item.raw);
    return { response, id: item.id, item };
  };

  before(async () => {
    su = fakeSu();
    cu = fakeCu();
    suHttp = await listen(su.app, '127.0.0.1', 0);
    cuHttp = await listen(cu.app, '127.0.0.1', 0);
  });
  after(async () => {
    await suHttp.close();
    await cuHttp.close();
  });
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'levity-mu-'));
    su.state.down = false;
    su.state.refusePushes = false;
    await startMu();
  });
  afterEach(async () => {
    await mu.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('says who it is at GET /', async () => {
    const response = await fetch(`${mu.url}/`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { name: string; address: string };
    assert.equal(body.name, 'ao messenger unit');
    assert.equal(body.address, mu.address);
    assert.equal(mu.address.length, 43);
    assert.equal((await fetch(`${mu.url}/health`)).status, 200);
  });

  it('delivers a spawn and a message to the SU and cranks their results', async () => {
    const processId = await spawn();
    assert.ok(su.processes.has(processId));
    const { response, id } = await send(processId);
    assert.equal(response.status, 202);
    assert.deepEqual(await response.json(), { message: 'Processing DataItem', id });
    assert.ok(su.items.has(id));
    await waitFor(() => cu.asked.includes(`${processId}:${id}:1`), 'the crank of the message');
    await waitFor(() => cu.asked.includes(`${processId}:${processId}:1`), 'the crank of the boot');
    // A client retry of an accepted item is accepted again, not a 409.
    const again = await post('/', su.items.get(id)!.raw);
    assert.equal(again.status, 202);
  });

  it('pushes outbox messages signed by the MU wallet, with the MU-owned tags, and cranks them', async () => {
    const sender = await spawn();
    const receiver = await spawn();
    // The result is in place before the message exists, so its first crank reads it.
    const message = await createDataItem({ signer: user, target: sender, tags: aoTags('Message'), data: 'ping' });
    cu.results.set(`${sender}:${message.id}`, {
      Messages: [
        {
          Target: receiver,
          Anchor: '00000000000000000000000000000001',
          Data: 'pong',
          Tags: [
            { name: 'Data-Protocol', value: 'ao' },
            { name: 'Variant', value: 'ao.TN.1' },
            { name: 'Type', value: 'Message' },
            { name: 'Reference', value: '1' },
            { name: 'Action', value: 'Pong' },
            { name: 'From-Process', value: receiver },
          ],
        },
      ],
      Spawns: [],
      Assignments: [],
      Output: '',
    });
    assert.equal((await post('/', message.raw)).status, 202);
    const pushed = await waitFor(() => su.pushed().find((item) => dataItemTarget(item) === receiver), 'the pushed message');
    assert.equal(verifyDataItem(pushed), true);
    assert.equal(ownerAddress(pushed.signatureType, pushed.owner), mu.address);
    assert.equal(Buffer.from(pushed.anchor!).toString(), '00000000000000000000000000000001');
    assert.equal(Buffer.from(pushed.data).toString(), 'pong');
    assert.deepEqual(values(pushed, 'From-Process'), [sender]);
    assert.deepEqual(values(pushed, 'From-Module'), [MODULE]);
    assert.deepEqual(values(pushed, 'Pushed-For'), [message.id]);
    assert.deepEqual(values(pushed, 'Action'), ['Pong']);
    assert.deepEqual(values(pushed, 'Type'), ['Message']);
    assert.deepEqual(values(pushed, 'Data-Protocol'), ['ao']);
    await waitFor(() => cu.asked.includes(`${receiver}:${pushed.id}:1`), 'the crank of the pushed message');
  });

  it('turns a spawn into a Process item and a Spawned notice to the parent, and cranks the child', async () => {
    const parent = await spawn();
    const trigger = await createDataItem({ signer: user, target: parent, tags: aoTags('Message', [{ name: 'Action', value: 'Spawn' }]) });
    cu.results.set(`${parent}:${trigger.id}`, {
      Messages: [],
      Spawns: [
        {
          Data: 'NODATA',
          Tags: [
            { name: 'Data-Protocol', value: 'ao' },
            { name: 'Variant', value: 'ao.TN.1' },
            { name: 'Type', value: 'Process' },
            { name: 'From-Process', value: parent },
            { name: 'From-Module', value: MODULE },
            { name: 'Module', value: MODULE },
            { name: 'Reference', value: '7' },
            { name: 'Name', value: 'kid' },
          ],
        },
      ],
      Assignments: [],
      Output: '',
    });
    assert.equal((await post('/', trigger.raw)).status, 202);
    const child = await waitFor(() => su.pushed().find((item) => tagValue(item.tags, 'Type') === 'Process'), 'the child process');
    assert.equal(ownerAddress(child.signatureType, child.owner), mu.address);
    assert.equal(dataItemTarget(child), undefined);
    assert.deepEqual(values(child, 'Module'), [MODULE]);
    assert.deepEqual(values(child, 'Scheduler'), [SU_ADDRESS]);
    assert.deepEqual(values(child, 'From-Process'), [parent]);
    assert.deepEqual(values(child, 'Name'), ['kid']);
    assert.equal(Buffer.from(child.data).toString(), 'NODATA');
    const notice = await waitFor(
      () => su.pushed().find((item) => tagValue(item.tags, 'Action') === 'Spawned' && dataItemTarget(item) === parent),
      'the Spawned notice',
    );
    assert.deepEqual(values(notice, 'Process'), [child.id]);
    assert.deepEqual(values(notice, 'Reference'), ['7']);
    assert.deepEqual(values(notice, 'From-Process'), [parent]);
    assert.deepEqual(values(notice, 'Type'), ['Message']);
    await waitFor(() => cu.asked.includes(`${child.id}:${child.id}:1`), 'the crank of the child boot');
    await waitFor(() => cu.asked.includes(`${parent}:${notice.id}:1`), 'the crank of the notice');
  });

  it('keeps a crank through an SU outage and delivers when the SU is back, even across an MU restart', async () => {
    const sender = await spawn();
    const receiver = await spawn();
    const outbox = (n: number) => ({
      Messages: [{ Target: receiver, Anchor: `${'0'.repeat(31)}${n}`, Data: `m${n}`, Tags: [{ name: 'Action', value: `M${n}` }] }],
      Spawns: [],
      Assignments: [],
      Output: '',
    });
    // Results are set before the messages exist, keyed by what the ids will be.
    const first = await createDataItem({ signer: user, target: sender, tags: aoTags('Message'), data: 'a' });
    const second = await createDataItem({ signer: user, target: sender, tags: aoTags('Message'), data: 'b' });
    cu.results.set(`${sender}:${first.id}`, outbox(1));
    cu.results.set(`${sender}:${second.id}`, outbox(2));
    su.state.refusePushes = true;
    assert.equal((await post('/', first.raw)).status, 202);
    assert.equal((await post('/', second.raw)).status, 202);
    await waitFor(() => su.state.refusedWhileDown >= 3, 'retried pushes');
    const toReceiver = () => su.pushed().filter((item) => dataItemTarget(item) === receiver);
    assert.equal(toReceiver().length, 0);
    // A new item cannot be accepted while the SU is down: 502, not a lie.
    su.state.down = true;
    const refused = await send(sender);
    assert.equal(refused.response.status, 502);
    await mu.stop();
    await startMu();
    su.state.down = false;
    su.state.refusePushes = false;
    const delivered = await waitFor(() => {
      const actions = toReceiver().map((item) => tagValue(item.tags, 'Action'));
      return actions.includes('M1') && actions.includes('M2') && actions;
    }, 'both pushes');
    assert.equal(delivered.length, 2, 'each pushed once');
  });

  it('takes assignments with both parameters and cranks them', async () => {
    const processId = await spawn();
    const { id } = await send(processId);
    const response = await post(`/?process-id=${processId}&assign=${id}&base-layer&exclude=Data,Anchor`);
    assert.equal(response.status, 202);
    const body = (await response.json()) as { message: string; id: string };
    assert.equal(body.message, 'Processing Assignment');
    assert.equal(typeof body.id, 'string');
    assert.deepEqual(su.assigns.at(-1), { processId, messageId: id, baseLayer: true, exclude: 'Data,Anchor' });
    await waitFor(() => cu.asked.includes(`${processId}:${id}:1`), 'the crank of the assigned message');
  });

  it('carries out outbox assignments and Assignments tags', async () => {
    const sender = await spawn();
    const other = await spawn();
    const third = await spawn();
    const existing = await send(sender);
    const trigger = await createDataItem({ signer: user, target: sender, tags: aoTags('Message'), data: 'assign' });
    cu.results.set(`${sender}:${trigger.id}`, {
      Messages: [
        { Target: other, Anchor: `${'0'.repeat(31)}5`, Tags: [{ name: 'Action', value: 'Fan' }, { name: 'Assignments', value: JSON.stringify([third]) }] },
      ],
      Spawns: [],
      Assignments: [{ Processes: [other], Message: existing.id }],
      Output: '',
    });
    assert.equal((await post('/', trigger.raw)).status, 202);
    await waitFor(() => su.assigns.some((entry) => entry.processId === other && entry.messageId === existing.id), 'the outbox assignment');
    const fan = await waitFor(() => su.pushed().find((item) => tagValue(item.tags, 'Action') === 'Fan'), 'the pushed message');
    assert.equal(values(fan, 'Assignments').length, 0, 'the MU acts on Assignments instead of forwarding it');
    await waitFor(() => su.assigns.some((entry) => entry.processId === third && entry.messageId === fan.id), 'the tag assignment');
    await waitFor(() => cu.asked.includes(`${third}:${fan.id}:1`), 'the crank on the assigned process');
  });

  it('monitors a process: polls /cron from the latest result, pushes cron output, and stops on unmonitor', async () => {
    const processId = await spawn();
    const receiver = await spawn();
    cu.latest.set(processId, 'c0');
    const cronMessage = (n: number) => ({
      Messages: [{ Target: receiver, Anchor: `${'0'.repeat(31)}${n}`, Data: 'tick', Tags: [{ name: 'Action', value: `Tick${n}` }] }],
      Spawns: [],
      Assignments: [],
      Output: '',
    });
    cu.cron.set(processId, [
      { cursor: 'c0', node: cronMessage(0) },
      { cursor: 'c1', node: cronMessage(1) },
    ]);
    const signed = await createDataItem({ signer: user, target: processId, data: ' ' });
    const response = await post(`/monitor/${processId}`, signed.raw);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'Monitoring process');
    const tick1 = await waitFor(() => su.pushed().find((item) => tagValue(item.tags, 'Action') === 'Tick1'), 'the cron push');
    assert.equal(cu.cronCalls.find((call) => call.processId === processId)?.from, 'c0');
    assert.equal(cu.cronCalls.find((call) => call.processId === processId)?.limit, '50');
    assert.deepEqual(values(tick1, 'From-Process'), [processId]);
    assert.equal(values(tick1, 'Pushed-For').length, 0, 'cron output was pushed for no message');
    assert.equal(su.pushed().some((item) => tagValue(item.tags, 'Action') === 'Tick0'), false, 'before the first cursor');

    cu.cron.get(processId)!.push({ cursor: 'c2', node: cronMessage(2) });
    await waitFor(() => su.pushed().find((item) => tagValue(item.tags, 'Action') === 'Tick2'), 'the next cron push');
    await waitFor(() => cu.cronCalls.some((call) => call.processId === processId && call.from === 'c2'), 'the cursor moved');

    const stop = await post(`/monitor/${processId}`, signed.raw, 'DELETE');
    assert.equal(stop.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const calls = cu.cronCalls.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(cu.cronCalls.length, calls, 'no polls after unmonitor');
  });

  it('monitors a spawned cron process by itself, and resumes monitoring after a restart', async () => {
    const processId = await spawn([{ name: 'Cron-Interval', value: '1-second' }, { name: 'Cron-Tag-Action', value: 'Cron' }]);
    await waitFor(() => cu.cronCalls.some((call) => call.processId === processId), 'a cron poll');
    await mu.stop();
    const before = cu.cronCalls.length;
    await startMu();
    await waitFor(() => cu.cronCalls.length > before && cu.cronCalls.at(-1)!.processId === processId, 'a poll after restart');
  });

  it('refuses bad input with 400 (404 for unknown processes) and keeps serving', async () => {
    const processId = await spawn();
    const expect = async (response: Response, status: number, code?: string) => {
      assert.equal(response.status, status);
      const body = (await response.json()) as { error: { code: string } };
      if (code) assert.equal(body.error.code, code);
    };
    await expect(await post('/', randomBytes(200)), 400);
    await expect(await post('/', 'x'), 400);
    await expect(await post('/'), 400, 'MU_EMPTY_BODY');

    const good = await createDataItem({ signer: user, target: processId, tags: aoTags('Message'), data: 'hello' });
    const forged = Uint8Array.from(good.raw);
    forged[forged.length - 1] = forged.at(-1)! ^ 1;
    await expect(await post('/', forged), 400, 'MU_SIGNATURE_INVALID');

    const noProtocol = await createDataItem({ signer: user, target: processId, tags: [{ name: 'Type', value: 'Message' }] });
    await expect(await post('/', noProtocol.raw), 400, 'AO_MISSING_TAG');
    const noType = await createDataItem({ signer: user, target: processId, tags: [{ name: 'Data-Protocol', value: 'ao' }] });
    await expect(await post('/', noType.raw), 400, 'AO_MISSING_TAG');
    const noModule = await createDataItem({
      signer: user,
      tags: [{ name: 'Data-Protocol', value: 'ao' }, { name: 'Type', value: 'Process' }, { name: 'Scheduler', value: SU_ADDRESS }],
    });
    await expect(await post('/', noModule.raw), 400, 'AO_MISSING_TAG');
    const noTarget = await createDataItem({ signer: user, tags: aoTags('Message') });
    await expect(await post('/', noTarget.raw), 400, 'MU_MESSAGE_NO_TARGET');

    await expect(await post(`/?process-id=${processId}`), 400, 'MU_ASSIGN_INCOMPLETE');
    await expect(await post(`/?assign=${good.id}`), 400, 'MU_ASSIGN_INCOMPLETE');
    await expect(await post(`/?process-id=short&assign=${good.id}`), 400, 'MU_BAD_ID');

    const stranger = 'Z'.repeat(42) + 'A';
    const lost = await createDataItem({ signer: user, target: stranger, tags: aoTags('Message'), data: 'x' });
    await expect(await post('/', lost.raw), 404, 'MU_PROCESS_NOT_FOUND');
    const monitorItem = await createDataItem({ signer: user, target: stranger, data: ' ' });
    await expect(await post(`/monitor/${stranger}`, monitorItem.raw), 404, 'MU_PROCESS_NOT_FOUND');
    await expect(await post(`/monitor/${processId}`, monitorItem.raw), 400, 'MU_MONITOR_TARGET_MISMATCH');
    await expect(await post(`/monitor/${processId}`, 'junk'), 400);
    await expect(await post(`/push/${good.id}/x?process-id=${processId}`), 400, 'MU_BAD_OUTBOX_NUMBER');
    await expect(await post('/', new Uint8Array(10 * 1024 * 1024 + 1)), 413, 'MU_BODY_TOO_LARGE');

    const { response } = await send(processId);
    assert.equal(response.status, 202, 'still serving');
  });

  it('re-pushes outbox message #n on request, without delivering it twice', async () => {
    const sender = await spawn();
    const receiver = await spawn();
    const item = await createDataItem({ signer: user, target: sender, tags: aoTags('Message'), data: 'p' });
    cu.results.set(`${sender}:${item.id}`, {
      Messages: [{ Target: receiver, Anchor: `${'0'.repeat(31)}9`, Tags: [{ name: 'Action', value: 'Once' }] }],
      Spawns: [],
      Assignments: [],
      Output: '',
    });
    assert.equal((await post('/', item.raw)).status, 202);
    await waitFor(() => su.pushed().some((pushed) => tagValue(pushed.tags, 'Action') === 'Once'), 'the push');
    const response = await post(`/push/${item.id}/0?process-id=${sender}`);
    assert.equal(response.status, 202);
    assert.equal((await post(`/push/${item.id}/5?process-id=${sender}`)).status, 404);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(su.pushed().filter((pushed) => tagValue(pushed.tags, 'Action') === 'Once').length, 1);
  });
});
