/**
 * The real @permaweb/aoconnect 0.0.98 pointed at a Levity devnet, with the one offline workaround
 * the spec names: scheduler-utils asks su-router.ao-testnet.xyz first and never catches a network
 * error, so that host is answered 404 by an undici MockAgent and `locate` falls back to our GraphQL.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { MockAgent, setGlobalDispatcher } from 'undici';
import type { Manifest } from '../../src/protocol/manifest.ts';

export type Tag = { name: string; value: string };
export type Signer = unknown;
export type AoResult = {
  Output?: unknown;
  Messages?: { Target?: string; Data?: string; Anchor?: string; Tags: Tag[] }[];
  Spawns?: unknown[];
  Assignments?: unknown[];
  Error?: unknown;
  GasUsed?: number;
};

/** The slice of aoconnect's API the tests use, typed (its own .d.ts is mostly `any`). */
export type AoConnect = {
  spawn(args: { module: string; scheduler: string; signer: Signer; tags?: Tag[]; data?: string }): Promise<string>;
  message(args: { process: string; signer: Signer; tags?: Tag[]; data?: string; anchor?: string }): Promise<string>;
  result(args: { message: string; process: string }): Promise<AoResult>;
  results(args: { process: string; from?: string; to?: string; sort?: 'ASC' | 'DESC'; limit?: number }): Promise<{
    edges: { cursor: string; node: AoResult }[];
  }>;
  dryrun(args: { process: string; data?: string; tags?: Tag[]; Owner?: string; anchor?: string }): Promise<AoResult>;
  monitor(args: { process: string; signer: Signer }): Promise<string>;
  unmonitor(args: { process: string; signer: Signer }): Promise<string>;
  assign(args: { process: string; message: string; exclude?: string[] }): Promise<string>;
};

let offlineInstalled = false;

/** Answers su-router with 404 and lets everything on localhost through. */
export function installOfflineRouter(): void {
  if (offlineInstalled) return;
  const agent = new MockAgent();
  agent.enableNetConnect(/localhost|127\.0\.0\.1/);
  agent.get('https://su-router.ao-testnet.xyz').intercept({ path: /.*/ }).reply(404, 'not here').persist();
  setGlobalDispatcher(agent);
  offlineInstalled = true;
}

export type AoKit = {
  ao: AoConnect;
  signer: Signer;
  createSigner: (jwk: JsonWebKey) => Signer;
  jwk: JsonWebKey;
  /** The signer's Arweave address: what aos sees as msg.From and the process Owner. */
  address: string;
};

/** Imports aoconnect after GRAPHQL_URL is set (its scheduler-utils reads it at import). */
export async function connectAo(manifest: Manifest): Promise<AoKit> {
  const ao = manifest.ao!;
  process.env.GRAPHQL_URL = ao.graphql;
  installOfflineRouter();
  const lib = (await import('@permaweb/aoconnect')) as unknown as {
    connect(args: Record<string, string>): AoConnect;
    createDataItemSigner(jwk: JsonWebKey): Signer;
  };
  const client = lib.connect({ MODE: 'legacy', MU_URL: ao.mu, CU_URL: ao.cu, GATEWAY_URL: ao.gateway, GRAPHQL_URL: ao.graphql });
  const jwk = rsaJwk();
  return { ao: client, signer: lib.createDataItemSigner(jwk), createSigner: (key) => lib.createDataItemSigner(key), jwk, address: jwkAddress(jwk) };
}

/** base64url(sha256(n)): an Arweave wallet's address. */
export function jwkAddress(jwk: JsonWebKey): string {
  return createHash('sha256').update(Buffer.from(jwk.n!, 'base64url')).digest('base64url');
}

/**
 * Reads a Lua expression through dryrun as the process owner (aoconnect's dryrun says Owner
 * "1234" unless told otherwise, and aos only evaluates an owner's Eval).
 */
export async function peek(kit: AoKit, process: string, expression: string): Promise<string> {
  const result = await kit.ao.dryrun({ process, tags: [tag('Action', 'Eval')], data: expression, Owner: kit.address });
  if (result.Error !== undefined) throw new Error(`dryrun Eval failed: ${String(result.Error)}`);
  return outputText(result);
}

/** ANS-104 type 1 needs a 4096-bit key; generating one takes a second or two. */
export function rsaJwk(): JsonWebKey {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096, publicExponent: 65537 });
  return privateKey.export({ format: 'jwk' });
}

/** Spawn tags every test process gets: MU-pushed messages are trusted through Authority. */
export function processTags(manifest: Manifest, extra: Tag[] = []): Tag[] {
  return [{ name: 'Authority', value: manifest.ao!.authority }, ...extra];
}

export function tag(name: string, value: string): Tag {
  return { name, value };
}

/** The text a process printed, whatever shape Output took. */
export function outputText(result: AoResult): string {
  const output = result.Output as unknown;
  if (typeof output === 'string') return output;
  if (output && typeof output === 'object' && 'data' in output) {
    const data = (output as { data: unknown }).data;
    return typeof data === 'string' ? data : JSON.stringify(data);
  }
  return output === undefined ? '' : JSON.stringify(output);
}

export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
