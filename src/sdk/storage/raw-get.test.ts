import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { rawGet, UnsupportedAnswerError } from './raw-get.ts';

/** A raw TCP server that answers each request line with whatever `respond` writes, to test framing edge cases. */
async function tcpServer(respond: (path: string, socket: Socket) => void): Promise<{ url: (path: string) => URL; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        const path = pending.slice(0, end).split(' ')[1]!;
        pending = pending.slice(end + 4);
        respond(path, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path) => new URL(`http://127.0.0.1:${port}${path}`),
    connections: () => connections,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const allocate = (length: number) => new Uint8Array(new SharedArrayBuffer(length));

describe('rawGet', () => {
  const body = Buffer.alloc(3 * 1024 * 1024 + 17, 0);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  let server: Awaited<ReturnType<typeof tcpServer>>;

  before(async () => {
    server = await tcpServer((path, socket) => {
      if (path === '/body') socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body]));
      else if (path === '/missing') socket.write('HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nnot here!');
      else if (path === '/chunked') socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n');
      else if (path === '/huge') socket.write('HTTP/1.1 200 OK\r\ncontent-length: 999999999999\r\n\r\n');
      else if (path === '/cut') socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly a little');
      else if (path === '/garbage') socket.end('this is not http at all\r\n\r\n');
      else if (path === '/close') socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
    });
  });
  after(() => server.close());

  it('reads a body straight into the buffer it was given, over one kept-alive connection', async () => {
    const before = server.connections();
    for (let round = 0; round < 3; round++) {
      let given: Uint8Array | undefined;
      const answer = await rawGet(server.url('/body'), (length) => (given = allocate(length)), 8 * 1024 * 1024, 5_000);
      assert.equal(answer.status, 200);
      assert.equal(answer.body, given, 'the caller’s buffer, not a copy');
      assert.ok(Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.length).equals(body));
    }
    assert.equal(server.connections() - before, 1);
  });

  it('hands error answers back plain, with their status', async () => {
    const answer = await rawGet(server.url('/missing'), () => assert.fail('error bodies do not use the caller’s buffer'), 1024, 5_000);
    assert.equal(answer.status, 404);
    assert.equal(Buffer.from(answer.body).toString(), 'not here!');
  });

  it('says when an answer is framed in a way it does not read, so callers can use node:http', async () => {
    await assert.rejects(rawGet(server.url('/chunked'), allocate, 1024, 5_000), UnsupportedAnswerError);
  });

  it('refuses, without allocating, an answer bigger than the caller expects', async () => {
    await assert.rejects(rawGet(server.url('/huge'), () => assert.fail('must not allocate'), 1024, 5_000), /larger than expected/);
  });

  it('fails cleanly on a cut-off body, garbage, or a connection the server closes', async () => {
    await assert.rejects(rawGet(server.url('/cut'), allocate, 1024, 5_000), /closed before the answer was complete/);
    await assert.rejects(rawGet(server.url('/garbage'), allocate, 1024, 5_000), UnsupportedAnswerError);
    const answer = await rawGet(server.url('/close'), allocate, 1024, 5_000);
    assert.equal(Buffer.from(answer.body).toString(), 'ok');
    // The next request finds no stale connection and works.
    assert.equal((await rawGet(server.url('/body'), allocate, 8 * 1024 * 1024, 5_000)).status, 200);
  });

  it('times out a server that never answers', async () => {
    await assert.rejects(rawGet(server.url('/silent'), allocate, 1024, 200), /no complete answer within 200 ms/);
  });
});
