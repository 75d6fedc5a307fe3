/**
 * A small HTTP/1.1 client for the benches: node:http with a keep-alive agent. undici's fetch
 * costs the client about as much CPU per request as a small request costs the server, and on a
 * 2-core machine the client and the server share the cores, so fetch would slow the server it
 * measures and add its own overhead to every latency. Both systems are measured through this.
 */
import { Agent, request } from 'node:http';

export type LeanResponse = { status: number; body: Buffer };

export type LeanClient = {
  get(path: string): Promise<LeanResponse>;
  post(path: string, body: Uint8Array | string, contentType: string): Promise<LeanResponse>;
  /** POST a JSON body and parse the JSON answer. */
  postJson<T>(path: string, value: unknown): Promise<{ status: number; body: T }>;
  close(): void;
};

export function leanClient(baseUrl: string, maxSockets = 16): LeanClient {
  const url = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets });
  const send = (method: string, path: string, body?: Uint8Array | string, contentType?: string): Promise<LeanResponse> =>
    new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (body !== undefined) {
        headers['content-type'] = contentType ?? 'application/octet-stream';
        headers['content-length'] = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      }
      const req = request({ host: url.hostname, port: url.port, path, method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  return {
    get: (path) => send('GET', path),
    post: (path, body, contentType) => send('POST', path, body, contentType),
    async postJson<T>(path: string, value: unknown) {
      const response = await send('POST', path, JSON.stringify(value), 'application/json');
      return { status: response.status, body: JSON.parse(response.body.toString('utf8')) as T };
    },
    close: () => agent.destroy(),
  };
}
