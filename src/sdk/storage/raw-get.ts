/**
 * A deliberately small HTTP/1.1 GET for segment batches: the kernel reads the body straight into
 * the caller's buffer (net's `onread`), so a download makes no per-chunk allocations and no
 * copies. With node:http every 64 KiB of a batch arrives in a fresh buffer that is then copied;
 * at a few hundred MB/s that copying and the garbage collection it causes cost more than
 * verifying the bytes. Plain http only, answers framed by content-length only (what a Levity
 * node sends); callers use node:http for anything else. Connections are kept alive per origin.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export type RawAnswer = { status: number; body: Uint8Array<ArrayBufferLike> };

type Waiting = {
  allocate: (length: number) => Uint8Array<ArrayBufferLike>;
  maxBytes: number;
  resolve: (answer: RawAnswer) => void;
  reject: (error: Error) => void;
};

type Connection = {
  socket: Socket;
  /** Whether the connection has carried a request before (a stale kept-alive one may fail at once). */
  reused: boolean;
  receivedAny: boolean;
  head: Buffer;
  headLength: number;
  body: Uint8Array<ArrayBufferLike> | undefined;
  got: number;
  status: number;
  close: boolean;
  waiting: Waiting | undefined;
};

const HEAD_BYTES = 16 * 1024;
/** Error answers are small JSON; anything bigger is not worth reading. */
const ERROR_BYTES = 1024 * 1024;
const idle = new Map<string, Connection[]>();

class RawHttpError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.retryable = retryable;
  }
}

/** The server answered in a way this client does not parse (chunked, say): ask with node:http instead. */
export class UnsupportedAnswerError extends Error {}

class AnswerTimeoutError extends Error {}

function open(host: string, port: number, origin: string): Connection {
  const head = Buffer.alloc(HEAD_BYTES);
  const connection: Connection = { socket: undefined as unknown as Socket, reused: false, receivedAny: false, head, headLength: 0, body: undefined, got: 0, status: 0, close: false, waiting: undefined };
  const fail = (error: Error) => {
    const waiting = connection.waiting;
    connection.waiting = undefined;
    const list = idle.get(origin);
    if (list?.includes(connection)) list.splice(list.indexOf(connection), 1);
    connection.socket.destroy();
    // Only a reused connection that failed before any answer may have been closed under us.
    const stale = connection.reused && !connection.receivedAny && !(error instanceof AnswerTimeoutError);
    waiting?.reject(error instanceof UnsupportedAnswerError ? error : new RawHttpError(error.message, stale));
  };
  const finish = () => {
    const waiting = connection.waiting!;
    const answer = { status: connection.status, body: connection.body! };
    connection.waiting = undefined;
    connection.body = undefined;
    connection.headLength = 0;
    connection.got = 0;
    if (connection.close) connection.socket.destroy();
    else {
      connection.reused = true;
      connection.socket.unref();
      idle.set(origin, [...(idle.get(origin) ?? []), connection]);
    }
    waiting.resolve(answer);
  };
  const onHead = () => {
    const end = connection.head.subarray(0, connection.headLength).indexOf('\r\n\r\n');
    if (end < 0) {
      if (connection.headLength === HEAD_BYTES) fail(new Error('response headers too large'));
      return;
    }
    const lines = connection.head.subarray(0, end).toString('latin1').split('\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
    const headers = new Map(lines.slice(1).map((line) => [line.slice(0, line.indexOf(':')).trim().toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
    const length = Number(headers.get('content-length'));
    if (!status || headers.has('transfer-encoding') || !Number.isSafeInteger(length) || length < 0) {
      fail(new UnsupportedAnswerError('unsupported response framing (expected a content-length)'));
      return;
    }
    connection.status = Number(status[1]);
    connection.close = headers.get('connection')?.toLowerCase() === 'close';
    // Only a successful answer goes into the caller's buffer; errors are small and plain.
    const ok = connection.status >= 200 && connection.status < 300;
    if (length > (ok ? connection.waiting!.maxBytes : ERROR_BYTES)) {
      fail(new Error(`answer of ${length} bytes is larger than expected`));
      return;
    }
    connection.body = ok ? connection.waiting!.allocate(length) : new Uint8Array(length);
    const early = connection.head.subarray(end + 4, connection.headLength);
    if (early.length > length) {
      fail(new Error('response longer than its content-length'));
      return;
    }
    connection.body.set(early, 0);
    connection.got = early.length;
    if (connection.got === length) finish();
  };
  connection.socket = connect({
    host,
    port,
    noDelay: true,
    onread: {
      // Headers into the scratch buffer; the body straight into its place in the caller's buffer.
      buffer: () => (connection.body ? connection.body.subarray(connection.got) : connection.head.subarray(connection.headLength)),
      callback: (bytes: number) => {
        if (!connection.waiting) {
          fail(new Error('data on an idle connection'));
          return false;
        }
        connection.receivedAny = true;
        // Nothing thrown here may escape: it would surface as an uncaught exception.
        try {
          if (connection.body) {
            connection.got += bytes;
            if (connection.got === connection.body.length) finish();
          } else {
            connection.headLength += bytes;
            onHead();
          }
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)));
          return false;
        }
        return true;
      },
    },
  });
  connection.socket.on('error', fail);
  connection.socket.on('close', () => fail(new Error('connection closed before the answer was complete')));
  return connection;
}

async function once(url: URL, allocate: Waiting['allocate'], maxBytes: number, timeoutMs: number, fresh: boolean): Promise<RawAnswer> {
  const origin = `${url.hostname}:${url.port || 80}`;
  const connection = (!fresh && idle.get(origin)?.pop()) || open(url.hostname.replace(/^\[|\]$/g, ''), Number(url.port || 80), origin);
  connection.receivedAny = false;
  connection.socket.ref();
  return new Promise<RawAnswer>((resolve, reject) => {
    const timer = setTimeout(() => connection.socket.destroy(new AnswerTimeoutError(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    connection.waiting = {
      allocate,
      maxBytes,
      resolve: (answer) => {
        clearTimeout(timer);
        resolve(answer);
      },
      reject: (error) => {
        clearTimeout(timer);
        reject(error);
      },
    };
    connection.socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

/**
 * GET `url` (http: only); the body of a 2xx answer, at most `maxBytes`, lands in
 * `allocate(contentLength)`.
 */
export async function rawGet(url: URL, allocate: Waiting['allocate'], maxBytes: number, timeoutMs: number): Promise<RawAnswer> {
  try {
    return await once(url, allocate, maxBytes, timeoutMs, false);
  } catch (error) {
    // A kept-alive connection the server had just closed fails before any answer: retry once, fresh.
    if (error instanceof RawHttpError && error.retryable) return once(url, allocate, maxBytes, timeoutMs, true);
    throw error;
  }
}
