/**
 * arlocal 1.1.66 as the baseline gateway for bench/gateway.bench.ts: started as its own process
 * (it appends a `./logs` line per request to its cwd, so it runs in a temp dir, never in the
 * repo) and fed ANS-104 items the only way it takes them: packed in bundles, each posted as an
 * Arweave L1 transaction with the `arweave` client.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import Arweave from 'arweave';
import type { JWKInterface } from 'arweave/node/lib/wallet.js';
import { encodeBundle } from '../src/protocol/ans104/index.ts';

export type RunningArlocal = {
  url: string;
  arweave: Arweave;
  /** Gives `address` a balance, as arlocal's `/mint/:address/:winston` does. */
  mint(address: string, winston: bigint): Promise<void>;
  /** Mines one block holding every pending transaction. */
  mine(): Promise<void>;
  stop(): Promise<void>;
};

/** A port the OS just had free; arlocal cannot be asked to pick one (port 0 means 1984 to it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** Starts arlocal with its database, data files and logs under `dir`; resolves once `/info` answers. */
export async function startArlocal(dir: string, timeoutMs = 60_000): Promise<RunningArlocal> {
  const bin = createRequire(import.meta.url).resolve('arlocal/bin/index.js');
  const port = await freePort();
  const child = spawn(process.execPath, [bin, String(port), '--hidelogs', '--dbpath', 'db'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    // SIGTERM only closes its server and db; SIGKILL is enough here since the dir goes anyway.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const ok = async (path: string) => {
    const response = await fetch(`${url}${path}`);
    if (!response.ok) throw new Error(`arlocal ${path}: HTTP ${response.status} ${await response.text()}`);
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`arlocal exited with ${child.exitCode}\n${output}`);
    try {
      await ok('/info');
      break;
    } catch (error) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`arlocal did not answer /info in ${timeoutMs} ms: ${String(error)}\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  return {
    url,
    arweave: Arweave.init({ host: '127.0.0.1', port, protocol: 'http' }),
    mint: (address, winston) => ok(`/mint/${address}/${winston}`),
    mine: () => ok('/mine'),
    async stop() {
      await stop();
    },
  };
}

/**
 * Packs `items` into one ANS-104 bundle and posts it as a signed format-2 L1 transaction. The
 * whole transaction (data inline) goes in one `POST /tx`, which arlocal unbundles before it
 * answers; `arweave.transactions.post` would switch to chunk uploads past 256 KiB, which arlocal
 * only unbundles when mining, by polling its chunk table in a loop.
 */
export async function postBundle(arweave: Arweave, jwk: JWKInterface, items: readonly Uint8Array[]): Promise<string> {
  const tx = await arweave.createTransaction({ data: encodeBundle(items) }, jwk);
  tx.addTag('Bundle-Format', 'binary');
  tx.addTag('Bundle-Version', '2.0.0');
  await arweave.transactions.sign(tx, jwk);
  const response = await arweave.api.post('tx', tx);
  // arlocal catches its own errors and still answers 200 with an empty body: check it echoed the tx.
  const echoed = (response.data as { id?: unknown } | undefined)?.id;
  if (response.status !== 200 || echoed !== tx.id) {
    throw new Error(`arlocal refused bundle ${tx.id}: HTTP ${response.status} ${JSON.stringify(response.data).slice(0, 300)}`);
  }
  return tx.id;
}
