import type { Manifest } from '../protocol/manifest.ts';

export type EndpointHealth = {
  role: string;
  url: string;
  ok: boolean;
  latencyMs: number;
  detail: string;
};

export type ProbeEndpointsParameters = { manifest: Manifest; timeoutMs?: number };

type Target = { role: string; url: string; kind: 'json-rpc' | 'http' };

/** Every endpoint a manifest names, in the order a person reads them. */
export function manifestEndpoints(manifest: Manifest): Target[] {
  const targets: Target[] = [{ role: 'chain', url: manifest.chain.rpc, kind: 'json-rpc' }];
  const add = (role: string, url: string | undefined) => url && targets.push({ role, url, kind: 'http' });
  add('explorer', manifest.explorer);
  if (manifest.storage) {
    add('indexer', manifest.storage.indexer);
    for (const url of manifest.storage.nodes) add('storage-node', url);
  }
  if (manifest.ao) {
    add('gateway', manifest.ao.gateway);
    add('mu', manifest.ao.mu);
    add('su', manifest.ao.su);
    add('cu', manifest.ao.cu);
  }
  if (manifest.da) {
    add('da-aggregator', manifest.da.aggregator);
    for (const url of manifest.da.nodes) add('da-node', url);
  }
  for (const provider of manifest.serving?.providers ?? []) add('provider', provider.url);
  return targets;
}

/** Probes every endpoint of a devnet at once: JSON-RPC for the chain, GET /health for roles. */
export async function probeEndpoints(parameters: ProbeEndpointsParameters): Promise<EndpointHealth[]> {
  const timeoutMs = parameters.timeoutMs ?? 3000;
  return Promise.all(manifestEndpoints(parameters.manifest).map((target) => probe(target, timeoutMs)));
}

async function probe(target: Target, timeoutMs: number): Promise<EndpointHealth> {
  const started = performance.now();
  const done = (ok: boolean, detail: string): EndpointHealth => ({
    role: target.role,
    url: target.url,
    ok,
    latencyMs: Math.round(performance.now() - started),
    detail,
  });
  try {
    if (target.kind === 'json-rpc') {
      const [chainId, block] = await Promise.all([
        rpc(target.url, 'eth_chainId', timeoutMs),
        rpc(target.url, 'eth_blockNumber', timeoutMs),
      ]);
      return done(true, `chainId ${Number(chainId)}, block ${Number(block)}`);
    }
    const response = await fetch(new URL('/health', target.url), { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => ({}))) as { status?: string };
    return done(response.ok && body.status !== 'down', `HTTP ${response.status}, ${body.status ?? 'no status'}`);
  } catch (error) {
    return done(false, error instanceof Error ? error.message : String(error));
  }
}

async function rpc(url: string, method: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { result?: unknown; error?: { message: string } };
  if (body.error) throw new Error(body.error.message);
  return body.result;
}
