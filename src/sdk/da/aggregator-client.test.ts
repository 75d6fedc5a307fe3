import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { LevityError } from '../../protocol/errors.ts';
import { blobStatus, submitBlob, waitForBlob } from './aggregator-client.ts';
import type { BlobStatus } from './aggregator-client.ts';

type Received = { bytes: number; sha256: string; contentLength?: string };

/** A stand-in aggregator: takes bodies, and answers statuses from a script per id. */
function fakeAggregator() {
  const received: Received[] = [];
  const scripts = new Map<string, BlobStatus[]>();
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'POST' && req.url === '/v1/blobs') {
      const hash = createHash('sha256');
      let bytes = 0;
      for await (const chunk of req as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        hash.update(chunk);
        if (bytes > 4 * 1024 * 1024) {
          // As a well-behaved server does: refuse, and close the connection rather than read the rest.
          res.setHeader('connection', 'close');
          send(413, { error: { code: 'DA_PAYLOAD_TOO_LARGE', message: 'the payload is over 4 MiB' } });
          req.destroy();
          return;
        }
      }
      received.push({ bytes, sha256: hash.digest('hex'), contentLength: req.headers['content-length'] });
      return send(202, { id: `job${received.length}`, status: 'pending' });
    }
    const id = /^\/v1\/blobs\/([^/]+)$/.exec(req.url ?? '')?.[1];
    const script = id ? scripts.get(id) : undefined;
    if (!script) return send(404, { error: { code: 'DA_UNKNOWN_BLOB', message: `no submission ${id}` } });
    // Each poll moves one step along the script and then stays on its last state.
    return send(200, script.length > 1 ? script.shift() : script[0]);
  };
  const server: Server = createServer((req, res) => void handle(req, res));
  return { server, received, scripts };
}

describe('aggregator client', () => {
  const fake = fakeAggregator();
  let url: string;
  let dir: string;

  before(async () => {
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'levity-da-agg-'));
  });

  after(async () => {
    await new Promise((resolve) => fake.server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  test('a file is streamed (never read whole) with its length declared and progress up to its size', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'payload.bin');
    await writeFile(path, bytes);
    const progress: Array<[number, number]> = [];
    const result = await submitBlob({ aggregator: `${url}/`, path, onProgress: (sent, total) => progress.push([sent, total]) });
    assert.deepEqual(result, { id: 'job1', status: 'pending', size: bytes.length });
    const got = fake.received.at(-1)!;
    assert.equal(got.bytes, bytes.length);
    assert.equal(got.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(got.contentLength, String(bytes.length));
    assert.ok(progress.length >= 3, 'progress comes per chunk');
    assert.ok(progress.every(([, total]) => total === bytes.length));
    assert.deepEqual(progress.at(-1), [bytes.length, bytes.length]);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]![0] >= progress[i - 1]![0]);
  });

  test('bytes are sent as they are', async () => {
    const bytes = new Uint8Array(randomBytes(1000));
    const result = await submitBlob({ aggregator: url, bytes });
    assert.equal(result.size, 1000);
    assert.equal(fake.received.at(-1)!.sha256, createHash('sha256').update(bytes).digest('hex'));
  });

  test('bad input and an oversized payload are typed errors', async () => {
    const isCode = (name: string, code: string) => (error: unknown) => error instanceof LevityError && error.name === name && error.code === code;
    await assert.rejects(submitBlob({ aggregator: url, bytes: new Uint8Array(0) }), isCode('InvalidInputError', 'DA_INVALID_INPUT'));
    await assert.rejects(submitBlob({ aggregator: url, path: join(dir, 'missing') }), isCode('InvalidInputError', 'DA_INVALID_INPUT'));
    await assert.rejects(submitBlob({ aggregator: url }), isCode('InvalidInputError', 'DA_INVALID_INPUT'));
    await assert.rejects(submitBlob({ aggregator: 'ftp://x', bytes: new Uint8Array(1) }), isCode('InvalidInputError', 'DA_INVALID_INPUT'));
    const big = join(dir, 'big.bin');
    await writeFile(big, randomBytes(5 * 1024 * 1024));
    await assert.rejects(submitBlob({ aggregator: url, path: big }), (error: unknown) => {
      // The fake answers 413 mid-upload; whether the answer or the reset socket wins, the error is typed.
      assert.ok(error instanceof LevityError, String(error));
      assert.ok(['DA_PAYLOAD_TOO_LARGE', 'DA_UNREACHABLE'].includes(error.code), error.code);
      return true;
    });
    await assert.rejects(submitBlob({ aggregator: 'http://127.0.0.1:1', bytes: new Uint8Array(1) }), isCode('UpstreamError', 'DA_UNREACHABLE'));
  });

  test('waitForBlob follows the states to the certificate and reports each change once', async () => {
    const base = { id: 'a1', payloadSize: 10 };
    const confirmed: BlobStatus = {
      ...base,
      status: 'confirmed',
      dataRoot: `0x${'ab'.repeat(32)}`,
      epoch: '4',
      blobCount: 1,
      signers: [0, 1, 2, 3],
      txHash: `0x${'cd'.repeat(32)}`,
      gasUsed: '312000',
      timings: { encodeMs: 1, disperseMs: 2, certifyMs: 3 },
    };
    fake.scripts.set('a1', [
      { ...base, status: 'pending' },
      { ...base, status: 'pending' },
      { ...base, status: 'dispersed' },
      confirmed,
    ]);
    const seen: string[] = [];
    const status = await waitForBlob({ aggregator: url, id: 'a1', timeoutMs: 10_000, intervalMs: 5, onStatus: (s) => seen.push(s.status) });
    assert.deepEqual(status, confirmed);
    assert.deepEqual(seen, ['pending', 'dispersed', 'confirmed']);
    assert.deepEqual(await blobStatus({ aggregator: url, id: 'a1' }), confirmed);
  });

  test("a failed submission throws with the aggregator's own code and message", async () => {
    fake.scripts.set('f1', [{ id: 'f1', payloadSize: 10, status: 'failed', error: { code: 'DA_QUORUM_NOT_REACHED', message: 'only 1 of 4 nodes signed' } }]);
    await assert.rejects(waitForBlob({ aggregator: url, id: 'f1', timeoutMs: 5_000 }), (error: unknown) => {
      assert.ok(error instanceof LevityError);
      assert.equal(error.name, 'UpstreamError');
      assert.equal(error.code, 'DA_QUORUM_NOT_REACHED');
      assert.equal(error.shortMessage, 'only 1 of 4 nodes signed');
      assert.equal(error.meta.id, 'f1');
      return true;
    });
  });

  test('waiting ends with DA_WAIT_TIMEOUT, an unknown id at once with NotFoundError', async () => {
    fake.scripts.set('p1', [{ id: 'p1', payloadSize: 10, status: 'pending' }]);
    await assert.rejects(waitForBlob({ aggregator: url, id: 'p1', timeoutMs: 200, intervalMs: 10 }), (error: unknown) => error instanceof LevityError && error.code === 'DA_WAIT_TIMEOUT');
    const started = Date.now();
    await assert.rejects(waitForBlob({ aggregator: url, id: 'nope', timeoutMs: 10_000 }), (error: unknown) => error instanceof LevityError && error.name === 'NotFoundError' && error.code === 'DA_UNKNOWN_BLOB');
    assert.ok(Date.now() - started < 2_000);
    await assert.rejects(blobStatus({ aggregator: url, id: '../x' }), (error: unknown) => error instanceof LevityError && error.code === 'DA_INVALID_INPUT');
  });

  test('an aggregator that restarts mid-wait does not end the wait', async () => {
    let calls = 0;
    const flaky = async (input: string, init?: RequestInit) => {
      calls++;
      if (calls <= 2) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    fake.scripts.set('r1', [{ id: 'r1', payloadSize: 1, status: 'confirmed' }]);
    const status = await waitForBlob({ aggregator: url, id: 'r1', timeoutMs: 5_000, intervalMs: 5, fetch: flaky });
    assert.equal(status.status, 'confirmed');
    assert.equal(calls, 3);
  });
});
