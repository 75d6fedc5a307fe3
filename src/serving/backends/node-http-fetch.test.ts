import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { createNodeHttpFetch } from './node-http-fetch.ts';

describe('node http fetch', () => {
  let server: Server;
  let base: string;
  const ports = new Set<number>();
  const transport = createNodeHttpFetch();

  before(async () => {
    server = createServer((req, res) => {
      ports.add(req.socket.remotePort ?? 0);
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.url === '/echo') {
          res.writeHead(201, { 'content-type': 'application/json', 'x-seen': String(req.headers['x-test']) });
          res.end(JSON.stringify({ method: req.method, body, length: req.headers['content-length'] }));
        } else if (req.url === '/moved') {
          res.writeHead(302, { location: '/echo' }).end();
        } else if (req.url === '/gzip') {
          res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync('inflated ✓'));
        } else if (req.url === '/drop-reused') {
          // The second request on a connection finds it closed, as when an upstream times out an idle one.
          const socket = req.socket as typeof req.socket & { served?: number };
          socket.served = (socket.served ?? 0) + 1;
          if (socket.served > 1) return socket.destroy();
          res.writeHead(200).end(String(socket.remotePort));
        } else if (req.url === '/empty') {
          res.writeHead(204).end();
        } else if (req.url === '/slow') {
          res.writeHead(200, { 'content-type': 'text/plain' });
          res.write('first ');
          setTimeout(() => res.end('last'), 2_000).unref();
        } else {
          res.writeHead(404).end('no');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    transport.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('posts a string body with headers and reads the answer, reusing one connection', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await transport.fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test': 'yes' }, body: '{"é":1}' });
      assert.equal(response.status, 201);
      assert.equal(response.ok, true);
      assert.equal(response.headers.get('x-seen'), 'yes');
      assert.deepEqual(await response.json(), { method: 'POST', body: '{"é":1}', length: '8' });
    }
    assert.equal(ports.size, 1, 'keep-alive');
    const missing = await transport.fetch(`${base}/nowhere`, { method: 'GET' });
    assert.deepEqual([missing.status, missing.ok, await missing.text()], [404, false, 'no']);
  });

  it('refuses redirects, inflates gzip, and gives a 204 no body', async () => {
    await assert.rejects(transport.fetch(`${base}/moved`, { method: 'GET' }), /redirect/);
    assert.equal(await (await transport.fetch(`${base}/gzip`, { method: 'GET' })).text(), 'inflated ✓');
    const empty = await transport.fetch(`${base}/empty`, { method: 'GET' });
    assert.deepEqual([empty.status, empty.body], [204, null]);
  });

  it('sends a request once more when its kept-alive connection was closed under it', async () => {
    const first = await (await transport.fetch(`${base}/drop-reused`, { method: 'POST', body: 'a' })).text();
    const second = await (await transport.fetch(`${base}/drop-reused`, { method: 'POST', body: 'b' })).text();
    assert.notEqual(first, second, 'answered on a new connection');
  });

  it('answers whole text calls the same way: keep-alive, redirects refused, gzip inflated, a closed connection retried', async () => {
    const portsBefore = ports.size;
    for (let i = 0; i < 3; i++) {
      const answer = await transport.text(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test': 'yes' }, body: '{"é":1}' });
      assert.deepEqual(answer, { status: 201, text: JSON.stringify({ method: 'POST', body: '{"é":1}', length: '8' }) });
    }
    assert.ok(ports.size <= portsBefore + 1, 'keep-alive');
    assert.deepEqual(await transport.text(`${base}/nowhere`, { method: 'GET', headers: {} }), { status: 404, text: 'no' });
    await assert.rejects(transport.text(`${base}/moved`, { method: 'GET', headers: {} }), /redirect/);
    assert.equal((await transport.text(`${base}/gzip`, { method: 'GET', headers: {} })).text, 'inflated ✓');
    assert.deepEqual(await transport.text(`${base}/empty`, { method: 'GET', headers: {} }), { status: 204, text: '' });
    const first = await transport.text(`${base}/drop-reused`, { method: 'POST', headers: {}, body: 'a' });
    const second = await transport.text(`${base}/drop-reused`, { method: 'POST', headers: {}, body: 'b' });
    assert.notEqual(first.text, second.text, 'answered on a new connection');
  });

  it('fails a text call aborted before or during its answer, and one to a dead upstream', async () => {
    const early = new AbortController();
    early.abort(new Error('gone'));
    await assert.rejects(transport.text(`${base}/echo`, { method: 'GET', headers: {}, signal: early.signal }), /gone/);
    const late = new AbortController();
    const slow = transport.text(`${base}/slow`, { method: 'GET', headers: {}, signal: late.signal });
    setTimeout(() => late.abort(new Error('client left')), 50);
    await assert.rejects(slow);
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise((resolve) => dead.close(resolve));
    await assert.rejects(transport.text(deadUrl, { method: 'GET', headers: {} }), /ECONNREFUSED/);
  });

  it('aborts before the answer and mid-body, and fails on a dead upstream', async () => {
    const early = new AbortController();
    early.abort(new Error('gone'));
    await assert.rejects(transport.fetch(`${base}/echo`, { method: 'GET', signal: early.signal }), /gone/);
    const late = new AbortController();
    const response = await transport.fetch(`${base}/slow`, { method: 'GET', signal: late.signal });
    const reader = response.body!.getReader();
    assert.equal(Buffer.from((await reader.read()).value!).toString(), 'first ');
    late.abort(new Error('client left'));
    await assert.rejects(reader.read());
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`;
    await new Promise((resolve) => dead.close(resolve));
    await assert.rejects(transport.fetch(deadUrl, { method: 'GET' }), /ECONNREFUSED/);
  });
});
