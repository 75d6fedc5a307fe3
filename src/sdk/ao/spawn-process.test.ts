/**
 * The AO actions against a fake unit on a real socket: the exact items and requests they send
 * (aoconnect's tag layout, signed and verifiable) and how a unit's failures reach the caller.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ed25519Signer, parseDataItem, toB64Url, verifyDataItem } from '../../protocol/ans104/index.ts';
import type { DataItem } from '../../protocol/ans104/index.ts';
import { InvalidInputError, NotFoundError, UpstreamError } from '../../protocol/errors.ts';
import { dryRun } from './dry-run.ts';
import { evalLua } from './eval-lua.ts';
import { monitorProcess, unmonitorProcess } from './monitor-process.ts';
import { publishModule } from './publish-module.ts';
import { readResult } from './read-result.ts';
import { readResults } from './read-results.ts';
import { sendMessage } from './send-message.ts';
import { spawnProcess } from './spawn-process.ts';

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer };
type Reply = { status: number; body: string };

const signer = ed25519Signer(new Uint8Array(32).fill(7));
const PID = toB64Url(new Uint8Array(32).fill(1));
const MODULE = toB64Url(new Uint8Array(32).fill(2));
const names = (item: DataItem) => item.tags.map((tag) => `${tag.name}=${tag.value}`);

describe('AO actions on the wire', () => {
  let server: Server;
  let url: string;
  let seen: Seen[];
  let reply: (request: Seen) => Reply;

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const request = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
        seen.push(request);
        const answer = reply(request);
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    reply = () => ({ status: 202, body: JSON.stringify({ message: 'Processing DataItem', id: 'x' }) });
  });

  const item = (index = 0) => {
    const raw = seen[index]!.body;
    const parsed = parseDataItem(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength));
    assert.ok(verifyDataItem(parsed), 'the item verifies');
    return parsed;
  };

  it('spawn: aoconnect tag order, Authority added once, " " and Content-Type when there is no data', async () => {
    const { processId } = await spawnProcess({
      mu: url,
      signer,
      module: MODULE,
      scheduler: 'SU-ADDRESS',
      authority: 'MU-ADDRESS',
      tags: [
        { name: 'Name', value: 'n' },
        { name: 'Type', value: 'Module' },
        { name: 'Data-Protocol', value: 'ao' },
      ],
    });
    assert.equal(seen[0]!.method, 'POST');
    assert.equal(seen[0]!.url, '/');
    assert.equal(seen[0]!.headers['content-type'], 'application/octet-stream');
    const spawned = item();
    assert.equal(processId, spawned.id);
    assert.equal(spawned.target, undefined);
    assert.equal(spawned.anchor?.byteLength, 32, 'a random anchor keeps deterministic signers from repeating ids');
    assert.equal(Buffer.from(spawned.data).toString(), ' ');
    const tags = names(spawned);
    assert.deepEqual(tags.slice(0, -1), [
      'Name=n',
      'Authority=MU-ADDRESS',
      'Content-Type=text/plain',
      'SDK=levity',
      'Data-Protocol=ao',
      'Variant=ao.TN.1',
      'Type=Process',
      `Module=${MODULE}`,
      'Scheduler=SU-ADDRESS',
    ]);
    assert.match(tags.at(-1)!, /^Timestamp=\d{13}$/);

    seen = [];
    await spawnProcess({ mu: url, signer, module: MODULE, scheduler: 'S', authority: 'A', tags: [{ name: 'Authority', value: 'X,A' }], data: 'print(1)' });
    const withData = item();
    assert.deepEqual(names(withData).filter((tag) => tag.startsWith('Authority') || tag.startsWith('Content-Type')), ['Authority=X,A']);
    assert.equal(Buffer.from(withData.data).toString(), 'print(1)');
  });

  it('spawn: a scheduler-assigned processId in the reply wins, as in aoconnect', async () => {
    const other = toB64Url(new Uint8Array(32).fill(9));
    reply = () => ({ status: 202, body: JSON.stringify({ id: 'x', processId: other }) });
    assert.deepEqual(await spawnProcess({ mu: url, signer, module: MODULE, scheduler: 'S' }), { processId: other });
  });

  it('send: target, anchor, tags in aoconnect order; the id is computed locally', async () => {
    const anchor = '0'.repeat(32);
    const { messageId } = await sendMessage({ mu: url, signer, process: PID, anchor, tags: [{ name: 'Action', value: 'Ping' }, { name: 'Variant', value: 'v' }] });
    const sent = item();
    assert.equal(messageId, sent.id);
    assert.equal(toB64Url(sent.target!), PID);
    assert.equal(Buffer.from(sent.anchor!).toString(), anchor);
    assert.deepEqual(names(sent), ['Action=Ping', 'Content-Type=text/plain', 'SDK=levity', 'Data-Protocol=ao', 'Variant=ao.TN.1', 'Type=Message']);

    // Sent twice with a deterministic (ed25519) signer, the same message still gets two ids.
    const twice = await Promise.all([0, 1].map(() => sendMessage({ mu: url, signer, process: PID, data: 'x = x + 1' })));
    assert.notEqual(twice[0]!.messageId, twice[1]!.messageId);
  });

  it('monitor / unmonitor: a signed item to the pid with data " " and no tags', async () => {
    reply = () => ({ status: 200, body: 'Monitoring process' });
    const { id } = await monitorProcess({ mu: url, signer, process: PID });
    await unmonitorProcess({ mu: url, signer, process: PID });
    assert.deepEqual(
      seen.map((request) => `${request.method} ${request.url}`),
      [`POST /monitor/${PID}`, `DELETE /monitor/${PID}`],
    );
    const request = item();
    assert.equal(request.id, id);
    assert.deepEqual([toB64Url(request.target!), Buffer.from(request.data).toString(), request.tags.length], [PID, ' ', 0]);
  });

  it('result, results and dry-run: paths, query order and bodies as aoconnect sends them', async () => {
    const result = { Output: { data: 'hi', prompt: 'aos> ' }, Messages: [], Spawns: [], Assignments: [] };
    reply = (request) =>
      request.url.startsWith('/results/')
        ? { status: 200, body: JSON.stringify({ pageInfo: { hasNextPage: true }, edges: [{ cursor: 'c1', node: { Output: 'x' } }] }) }
        : { status: 200, body: JSON.stringify(result) };
    assert.deepEqual(await readResult({ cu: url, process: PID, message: MODULE }), result);
    const page = await readResults({ cu: url, process: PID, from: 'abc', sort: 'DESC', limit: 5 });
    assert.deepEqual(page, { hasNextPage: true, edges: [{ cursor: 'c1', node: { Output: 'x', Messages: [], Spawns: [], Assignments: [] } }] });
    await dryRun({ cu: url, process: PID, tags: [{ name: 'Action', value: 'Info' }], owner: 'me' });
    assert.deepEqual(
      seen.map((request) => `${request.method} ${request.url}`),
      [`GET /result/${MODULE}?process-id=${PID}`, `GET /results/${PID}?from=abc&sort=DESC&limit=5`, `POST /dry-run?process-id=${PID}`],
    );
    assert.deepEqual(JSON.parse(seen[2]!.body.toString()), {
      Id: '1234',
      Target: PID,
      Owner: 'me',
      Anchor: '0',
      Data: '',
      Tags: [
        { name: 'Action', value: 'Info' },
        { name: 'Data-Protocol', value: 'ao' },
        { name: 'Type', value: 'Message' },
        { name: 'Variant', value: 'ao.TN.1' },
      ],
    });
  });

  it('eval: an Action=Eval message with the code as data, then its result', async () => {
    reply = (request) =>
      request.method === 'POST' ? { status: 202, body: '{"id":"x"}' } : { status: 200, body: JSON.stringify({ Output: { data: '2' } }) };
    const { messageId, result } = await evalLua({ mu: url, cu: url, signer, process: PID, code: 'return 1 + 1' });
    const sent = item();
    assert.equal(sent.id, messageId);
    assert.equal(Buffer.from(sent.data).toString(), 'return 1 + 1');
    assert.equal(sent.tags[0]?.value, 'Eval');
    assert.equal(seen[1]!.url, `/result/${messageId}?process-id=${PID}`);
    assert.deepEqual(result.Output, { data: '2' });
  });

  it('publish-module: module tags with limits, posted to /tx', async () => {
    reply = (request) => ({ status: 200, body: JSON.stringify({ id: parseDataItem(new Uint8Array(request.body)).id }) });
    const { moduleId } = await publishModule({ gateway: url, signer, source: 'function handle() end', memoryLimit: '1-gb' });
    assert.equal(seen[0]!.url, '/tx');
    const published = item();
    assert.equal(published.id, moduleId);
    for (const tag of ['Data-Protocol=ao', 'Type=Module', 'Module-Format=lua-5.4-levity', 'Input-Encoding=JSON-1', 'Output-Encoding=JSON-1', 'Memory-Limit=1-gb']) {
      assert.ok(names(published).includes(tag), tag);
    }
    await assert.rejects(publishModule({ gateway: url, signer, source: 'x', memoryLimit: 'lots' }), InvalidInputError);
  });

  it("carries a unit's error code and message over, typed by status", async () => {
    reply = () => ({ status: 404, body: JSON.stringify({ error: { code: 'CU_MESSAGE_NOT_FOUND', message: 'message m is not scheduled' } }) });
    await assert.rejects(readResult({ cu: url, process: PID, message: PID }), (error) => {
      assert.ok(error instanceof NotFoundError);
      assert.equal(error.code, 'CU_MESSAGE_NOT_FOUND');
      assert.equal(error.shortMessage, 'message m is not scheduled');
      return true;
    });
    reply = () => ({ status: 400, body: JSON.stringify({ error: 'bad item' }) });
    await assert.rejects(sendMessage({ mu: url, signer, process: PID }), (error) => error instanceof InvalidInputError && error.shortMessage === 'bad item');
    reply = () => ({ status: 502, body: 'gateway fell over' });
    await assert.rejects(readResults({ cu: url, process: PID }), (error) => error instanceof UpstreamError && error.code === 'AO_CLIENT_HTTP_ERROR');
    reply = () => ({ status: 200, body: 'not json' });
    await assert.rejects(readResult({ cu: url, process: PID, message: PID }), (error) => error instanceof UpstreamError && error.code === 'AO_CLIENT_BAD_REPLY');
  });

  it('bad input and unreachable units fail with typed errors before or instead of a crash', async () => {
    await assert.rejects(sendMessage({ mu: url, signer, process: 'nope' }), (error) => error instanceof InvalidInputError && error.code === 'AO_CLIENT_INVALID_INPUT');
    await assert.rejects(sendMessage({ mu: 'ftp://x', signer, process: PID }), InvalidInputError);
    await assert.rejects(sendMessage({ mu: url, signer, process: PID, tags: [{ name: '', value: 'x' }] }), InvalidInputError);
    await assert.rejects(sendMessage({ mu: url, signer, process: PID, anchor: 'short' }), (error) => error instanceof InvalidInputError && error.code === 'ANS104_BAD_ANCHOR');
    await assert.rejects(readResults({ cu: url, process: PID, limit: 0 }), InvalidInputError);
    assert.equal(seen.length, 0, 'nothing was sent');
    await assert.rejects(readResult({ cu: 'http://127.0.0.1:1', process: PID, message: PID }), (error) => error instanceof UpstreamError && error.code === 'AO_CLIENT_UNREACHABLE');
  });
});
