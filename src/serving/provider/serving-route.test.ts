import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../shared/log.ts';
import type { ServingRequestKind } from './openai-request.ts';
import type { ServingHandler, ServingInput, ServingReply } from './serving-handler.ts';
import { routeFirst } from '../../shared/route-first.ts';
import { createServingRoute } from './serving-route.ts';

type Seen = { kind: ServingRequestKind; input: ServingInput };

describe('paid routes on the node server', () => {
  const seen: Seen[] = [];
  const answered: Array<[string, number]> = [];
  let gone: Promise<void> | undefined;
  const handler: ServingHandler = {
    async serve(kind, input): Promise<ServingReply> {
      seen.push({ kind, input });
      if (input.body === 'stream') {
        return {
          status: 200,
          headers: { 'content-type': 'text/event-stream' },
          stream(sink) {
            sink.write('data: one\n\n');
            setTimeout(() => {
              sink.write('data: two\n\n');
              sink.end();
            }, 5);
          },
        };
      }
      if (input.body === 'wait') {
        // Answers only once the client has gone, as a generation cut short does.
        gone = new Promise((resolve) => input.signal.addEventListener('abort', () => resolve(), { once: true }));
        await gone;
        return { status: 499, headers: {}, body: '' };
      }
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind, body: input.body, ok: 'ü' }) };
    },
  };
  let server: Server;
  let base: string;

  before(async () => {
    server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('app'));
    routeFirst(server, createServingRoute({ handler, log: createLogger({ level: 'silent' }), maxBodyBytes: 1024, answered: (route, status) => answered.push([route, status]) }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('serves POSTs of the paid paths with the billing headers and body text, and leaves the rest to the app', async () => {
    const headers = { 'content-type': 'application/json', 'X-Levity-User': '0xabc', 'X-Levity-Nonce': '7', 'x-other': 'no' };
    const chat = await fetch(`${base}/v1/chat/completions?x=1`, { method: 'POST', headers, body: '\uFEFF{"a":1}' });
    assert.equal(chat.status, 200);
    assert.equal(chat.headers.get('content-length'), String(Buffer.byteLength(await chat.clone().text())));
    assert.deepEqual(await chat.json(), { kind: 'chat', body: '{"a":1}', ok: 'ü' });
    const completion = await fetch(`${base}/v1/completions`, { method: 'POST', body: 'p' });
    assert.equal(((await completion.json()) as { kind: string }).kind, 'completion');
    const { input } = seen[0]!;
    assert.deepEqual(
      Object.fromEntries(Object.entries(input.headers).filter(([, v]) => v !== undefined)),
      { 'x-levity-user': '0xabc', 'x-levity-nonce': '7' },
      'only the billing headers, by their lower-case names',
    );
    for (const [method, path] of [['GET', '/v1/chat/completions'], ['POST', '/v1/chat/completions/x'], ['POST', '/v1/models']]) {
      const res = await fetch(`${base}${path}`, { method });
      assert.deepEqual([res.status, await res.text()], [404, 'app'], `${method} ${path}`);
    }
    assert.deepEqual(answered.slice(0, 2), [['/v1/chat/completions', 200], ['/v1/completions', 200]]);
  });

  it('refuses a body over the limit, declared or streamed, and the connection serves on', async () => {
    const declared = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: 'x'.repeat(2048) });
    assert.equal(declared.status, 413);
    assert.equal(((await declared.json()) as { error: { code: string } }).error.code, 'SERVING_BODY_TOO_LARGE');
    // Chunked: no content-length, the count stops it.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}/v1/chat/completions`, { method: 'POST' }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 4; i++) req.write('y'.repeat(512));
      req.end();
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.body, /SERVING_BODY_TOO_LARGE/);
    const after = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: 'small' });
    assert.equal(after.status, 200);
  });

  it('writes a stream as it comes, and tells the handler when the client has gone', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST', body: 'stream' });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(await res.text(), 'data: one\n\ndata: two\n\n');

    const controller = new AbortController();
    const waiting = fetch(`${base}/v1/chat/completions`, { method: 'POST', body: 'wait', signal: controller.signal }).catch(() => undefined);
    while (!gone) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await gone;
    await waiting;
    assert.ok(seen.at(-1)!.input.signal.aborted);
  });
});
