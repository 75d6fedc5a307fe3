/**
 * Serving: the latency the provider's billing broker adds to a request (verify the receipt,
 * check the allowance, store it durably, forward, count, sign the response, store the usage)
 * against calling the same backend directly; and the gas of settling one receipt that covers
 * 1 request vs 1,000. The backend is a minimal OpenAI-compatible server that answers at once, so
 * the difference is the broker alone.
 *
 * The comparison: the same upstream, the same request body, the same client (fetch, one request at
 * a time, body read to the end), all in this one process, so both sides pay the same client and
 * upstream work and the difference is the broker's hop and its own work. Receipts are signed before
 * the clock starts (the client's cost, not the broker's), and each path is warmed up alike first
 * (code compiled, connections open). The broker counts prompt tokens with the
 * upstream's /tokenize and remembers counts per request, so repeating one body measures the broker
 * without that round trip; the "distinct prompts" rows send a new prompt every time (direct and
 * brokered alike), so each brokered request also waits for one /tokenize.
 *
 * The receipts store lives in the OS temp dir, as the fixture makes it: every request waits for one
 * fdatasync of it before its answer is released (the charge is on disk first), so the added latency
 * includes that disk's flush time, and the row's note names the file system. A tmpfs there would
 * measure a broker that keeps nothing durably.
 */
import { statfsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseEther } from 'viem';
import type { LocalAccount } from 'viem';
import { startTestEvm } from '../src/chain/test-evm.ts';
import { createProvider, createProxyBackend } from '../src/serving/index.ts';
import { receiptSigner, startServingFixture } from '../src/serving/provider/testing.ts';
import { report } from './report.ts';

const REQUESTS = Number(process.env.BENCH_SERVING_REQUESTS ?? 1000);
/** Requests each path gets before it is timed, so both are measured with their code compiled and connections open. */
const WARM_UP = 200;
const PRICES = { inputPricePerToken: 1_000_000_000n, outputPricePerToken: 2_000_000_000n };

/** An upstream that answers every chat request at once with a fixed reply and its usage. */
async function startUpstream() {
  const reply = JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created: 0,
    model: 'bench',
    choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 8, completion_tokens: 1, total_tokens: 9 },
  });
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/v1/models') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ object: 'list', data: [{ id: 'bench', object: 'model' }] }));
      } else if (req.url === '/tokenize') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ count: 8 }));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const chatBody = (content: string) => JSON.stringify({ model: 'bench', messages: [{ role: 'user', content }], max_tokens: 4 });
const body = chatBody('hello there');

async function timed(url: string, headers: (i: number) => Record<string, string>, count: number, bodies: (i: number) => string = () => body): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const request = bodies(i);
    const start = performance.now();
    const response = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers(i) }, body: request });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`request ${i} answered ${response.status}`);
    times.push(performance.now() - start);
  }
  return times;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** The file system a directory is on, by its statfs magic: what the store's per-request sync costs depends on it. */
function fileSystem(dir: string): string {
  const names: Record<number, string> = { 0xef53: 'ext4', 0x01021994: 'tmpfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x794c7630: 'overlayfs', 0x6a656a63: 'virtiofs' };
  try {
    const type = Number(statfsSync(dir).type);
    return names[type] ?? `fs 0x${type.toString(16)}`;
  } catch {
    return 'an unknown file system';
  }
}

async function main(): Promise<void> {
  const upstream = await startUpstream();
  const fixture = await startServingFixture(await startTestEvm());
  const backend = await createProxyBackend({ upstream: upstream.url });
  const [, providerAccount, userA, userB] = fixture.evm.accounts as LocalAccount[];
  const dataDir = `${fixture.dir}/provider`;
  const provider = createProvider({
    dataDir,
    host: '127.0.0.1',
    port: 0,
    log: fixture.log,
    client: fixture.evm.publicClient,
    wallet: fixture.evm.wallet(providerAccount!),
    chainId: fixture.domain.chainId as number,
    registry: fixture.registry,
    ledger: fixture.ledger,
    backend,
    service: { name: 'chat', ...PRICES },
    settleIntervalMs: 0,
  });
  await provider.start();
  try {
    for (const user of [userA!, userB!]) {
      await fixture.ledgerTx(user, 'deposit', [], parseEther('1'));
      await fixture.ledgerTx(user, 'fund', [provider.address, parseEther('1')]);
    }
    // Receipts are signed before the clock starts: signing is the client's cost, not the broker's.
    const worst = 8n * PRICES.inputPricePerToken + 4n * PRICES.outputPricePerToken;
    const signerB = receiptSigner(userB!, provider.address, fixture.domain);
    // Nonces and caps rise across the runs, in the order they are sent.
    let signed = 0n;
    const receipts = (count: number) => Promise.all(Array.from({ length: count }, () => signerB.headers(worst * ++signed * 4n)));
    const warmB = await receipts(WARM_UP);
    const headersB = await receipts(REQUESTS);
    const distinctB = await receipts(REQUESTS);

    await timed(upstream.url, () => ({}), WARM_UP);
    await timed(provider.url, (i) => warmB[i]!, WARM_UP);
    const direct = (await timed(upstream.url, () => ({}), REQUESTS)).sort((a, b) => a - b);
    const brokered = (await timed(provider.url, (i) => headersB[i]!, REQUESTS)).sort((a, b) => a - b);
    const added = { p50: quantile(brokered, 0.5) - quantile(direct, 0.5), p99: quantile(brokered, 0.99) - quantile(direct, 0.99) };
    report({ bench: 'serving', name: 'backend called directly, p50', value: quantile(direct, 0.5), unit: 'ms', note: `${REQUESTS} sequential chat requests` });
    report({ bench: 'serving', name: 'through the billing broker, p50', value: quantile(brokered, 0.5), unit: 'ms', note: `p99 ${quantile(brokered, 0.99).toFixed(2)} ms` });
    report({ bench: 'serving', name: 'broker added latency, p50', value: added.p50, unit: 'ms', target: '≤ 1 ms', note: `receipts store on ${fileSystem(dataDir)}, one fdatasync per request` });
    report({ bench: 'serving', name: 'broker added latency, p99', value: added.p99, unit: 'ms' });

    const distinct = (run: string) => (i: number) => chatBody(`hello there, ${run} prompt ${i}`);
    const directDistinct = (await timed(upstream.url, () => ({}), REQUESTS, distinct('direct'))).sort((a, b) => a - b);
    const brokeredDistinct = (await timed(provider.url, (i) => distinctB[i]!, REQUESTS, distinct('brokered'))).sort((a, b) => a - b);
    report({
      bench: 'serving',
      name: 'broker added latency, p50, distinct prompts',
      value: quantile(brokeredDistinct, 0.5) - quantile(directDistinct, 0.5),
      unit: 'ms',
      note: `one upstream /tokenize per request; p99 added ${(quantile(brokeredDistinct, 0.99) - quantile(directDistinct, 0.99)).toFixed(2)} ms`,
    });

    // One request for user A; then settle both: A's receipt covers 1 request, B's every request above.
    const signerA = receiptSigner(userA!, provider.address, fixture.domain);
    // A non-zero nonce, as B's last one is, so both settles write the same storage slots.
    const headersA = await signerA.headers(worst * 4n, { nonce: 1n });
    await timed(provider.url, () => headersA, 1);
    const results = await provider.settle();
    const gasOf = async (user: string) => {
      const result = results.find((r) => r.user.toLowerCase() === user.toLowerCase());
      if (!result?.tx) throw new Error(`no settlement for ${user}`);
      return (await fixture.evm.publicClient.getTransactionReceipt({ hash: result.tx })).gasUsed;
    };
    const [gasOne, gasMany] = [await gasOf(userA!.address), await gasOf(userB!.address)];
    report({ bench: 'serving', name: 'settlement gas, receipt for 1 request', value: Number(gasOne), unit: 'gas' });
    report({ bench: 'serving', name: `settlement gas, receipt for ${WARM_UP + 2 * REQUESTS} requests`, value: Number(gasMany), unit: 'gas', target: 'equal to 1 request', note: 'differs only by calldata bytes of the amounts' });
  } finally {
    await provider.stop();
    await backend.close();
    await fixture.close();
    await upstream.close();
  }
}

await main();
