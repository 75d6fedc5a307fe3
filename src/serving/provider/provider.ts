import { join } from 'node:path';
import type { Account, Address, Chain, Hex, LocalAccount, PublicClient, Transport, WalletClient } from 'viem';
import { InvalidInputError, LevityError } from '../../protocol/errors.ts';
import { loadKeccak } from '../../protocol/storage/keccak.ts';
import type { TokenPrices } from '../../protocol/serving/billing.ts';
import { createRoleApp, listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import type { ChatBackend } from '../backends/backend.ts';
import { createBillingGate } from './billing-gate.ts';
import { addProviderRoutes, errorJson, jsonResponse } from './provider-routes.ts';
import { DEFAULT_MAX_TOKENS, createServingHandler } from './serving-handler.ts';
import { routeFirst } from '../../shared/route-first.ts';
import { createServingRoute } from './serving-route.ts';
import { nativeEcdsa, nativeEcdsaError } from './native-ecdsa.ts';
import { openReceiptsStore } from './receipts-store.ts';
import type { ReceiptsStore } from './receipts-store.ts';
import { createResponseSigner } from './response-signer.ts';
import { SERVICE_TYPE_CHAT, VERIFIABILITY_SIGNED_RESPONSE, ensureServiceRegistered } from './registration.ts';
import { providerMetrics } from './provider-metrics.ts';
import { DEFAULT_SETTLE_INTERVAL_MS, createSettlement } from './settlement.ts';
import type { SettleResult, Settlement } from './settlement.ts';

export const PROVIDER_STORE_FILE = 'provider.sqlite';

export type ProviderServiceOptions = TokenPrices & {
  /** The registry key under this provider's address. */
  name: string;
};

export type ProviderOptions = {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  client: PublicClient;
  /** The provider's own key (a local account): registers the service, signs responses, settles. */
  wallet: WalletClient<Transport, Chain, Account>;
  /**
   * The wallet account's private key, so that responses are signed natively (checked against the
   * account). An HD account's key is found without it; a plain local account without it signs
   * through viem, about a millisecond per response.
   */
  signingKey?: Hex;
  chainId: number;
  /** ServiceRegistry address. */
  registry: Address;
  /** ServingLedger address: the EIP-712 verifying contract of receipts. */
  ledger: Address;
  backend: ChatBackend;
  service: ProviderServiceOptions;
  /** The URL registered on chain; defaults to the URL the server bound. */
  advertisedUrl?: string;
  /** Defaults to 30 s; 0 settles only at stop (and on demand). */
  settleIntervalMs?: number;
  /** max_tokens when a request names none (128). */
  defaultMaxTokens?: number;
  /** How long an on-chain sub-account read is trusted by the balance check (5 s). */
  chainCacheMs?: number;
};

export type Provider = Startable & {
  readonly url: string;
  readonly address: Address;
  readonly model: string;
  /** Runs a settlement round now (after any running one); stop() runs one too. */
  settle(): Promise<SettleResult[]>;
};

/**
 * The provider role: serves a backend's model over an OpenAI-compatible API, paid per token
 * through the ServingLedger. At start it opens its receipts store, listens, registers (or
 * updates) its service in the ServiceRegistry, and starts settling periodically; at stop it
 * finishes the requests in flight, settles once more and closes the store.
 */
export function createProvider(options: ProviderOptions): Provider {
  const log = options.log.child({ role: 'provider' });
  const account = localAccount(options.wallet.account);
  const model = options.backend.models[0];
  if (model === undefined) throw new InvalidInputError('SERVING_NO_MODEL', 'The backend serves no model');
  const prices: TokenPrices = { inputPricePerToken: options.service.inputPricePerToken, outputPricePerToken: options.service.outputPricePerToken };
  for (const [key, value] of Object.entries(prices)) {
    if (value < 0n) throw new InvalidInputError('SERVING_BAD_PRICE', `${key} must not be negative`, { meta: { [key]: value.toString() } });
  }
  const defaultMaxTokens = options.defaultMaxTokens ?? DEFAULT_MAX_TOKENS;
  if (!Number.isSafeInteger(defaultMaxTokens) || defaultMaxTokens < 1) {
    throw new InvalidInputError('SERVING_BAD_MAX_TOKENS', 'defaultMaxTokens must be a positive integer', { meta: { defaultMaxTokens } });
  }
  let running: { http: RunningHttpServer; store: ReceiptsStore; settlement: Settlement; url: string } | undefined;
  let stopping = false;
  const inflight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    const quiet = work.catch(() => undefined);
    inflight.add(quiet);
    void quiet.finally(() => inflight.delete(quiet));
  };
  const need = () => {
    if (!running) throw new LevityError('SERVING_PROVIDER_NOT_STARTED', 'the provider is not running');
    return running;
  };

  return {
    get url() {
      return need().url;
    },
    address: account.address,
    model,
    settle: () => need().settlement.settleAll(),

    async start() {
      if (running) return;
      stopping = false;
      // Native curve math and wasm keccak for the per-request signature work; pure JS where the addon cannot load.
      const keccak = (await loadKeccak()).hash;
      const ecdsa = nativeEcdsa();
      if (!ecdsa) log.warn({ err: nativeEcdsaError() }, 'native secp256k1 unavailable: receipts and responses use pure-JS curve math');
      const signer = createResponseSigner({ account, ecdsa, keccak, ...(options.signingKey === undefined ? {} : { privateKey: options.signingKey }) });
      if (ecdsa && !signer.direct) log.warn('no private key for the provider account: responses are signed through viem (pass signingKey)');
      const { app, metrics: registry } = createRoleApp({
        role: 'provider',
        log,
        health: () => ({ address: account.address, model, ...store.stats() }),
      });
      const metrics = providerMetrics(registry, () => running?.store);
      metrics.countRequests(app);
      const store = metrics.metered(openReceiptsStore({ path: join(options.dataDir, PROVIDER_STORE_FILE) }));
      const gate = createBillingGate({
        store,
        client: options.client,
        domain: { chainId: options.chainId, verifyingContract: options.ledger },
        provider: account.address,
        prices,
        ...(options.chainCacheMs === undefined ? {} : { chainCacheMs: options.chainCacheMs }),
        crypto: { keccak, ...(ecdsa ? { ecdsa } : {}) },
      });
      const settlement = createSettlement({
        store,
        client: options.client,
        wallet: options.wallet,
        ledger: options.ledger,
        log,
        intervalMs: options.settleIntervalMs ?? DEFAULT_SETTLE_INTERVAL_MS,
        onResult: metrics.settled,
      });
      app.notFound((c) =>
        jsonResponse(404, { error: { message: `no route ${c.req.method} ${c.req.path}`, type: 'not_found_error', code: 'HTTP_NOT_FOUND', param: null } }),
      );
      app.onError((error) => errorJson(error, log));
      addProviderRoutes({ app, log, account, gate, backend: options.backend, prices });
      const handler = createServingHandler({
        log,
        account,
        gate,
        signResponse: signer.sign,
        backend: options.backend,
        prices,
        defaultMaxTokens,
        track,
        isStopping: () => stopping,
      });
      let http: RunningHttpServer | undefined;
      try {
        http = await listen(app, options.host, options.port);
        // In the tick the server began listening, before any request is read: none reaches the app instead.
        routeFirst(http.server, createServingRoute({ handler, log, answered: metrics.answered }));
        const url = options.advertisedUrl ?? http.url;
        await ensureServiceRegistered({
          client: options.client,
          wallet: options.wallet,
          registry: options.registry,
          service: {
            name: options.service.name,
            serviceType: SERVICE_TYPE_CHAT,
            url,
            model,
            ...prices,
            verifiability: VERIFIABILITY_SIGNED_RESPONSE,
          },
          log,
        });
        await settlement.start();
        running = { http, store, settlement, url };
      } catch (error) {
        await http?.close();
        store.close();
        throw error;
      }
      log.info({ url: running.url, address: account.address, model }, 'provider started');
    },

    async stop() {
      const current = running;
      if (!current) return;
      stopping = true;
      // Closing drops the connections: streams are cancelled, their generations aborted, and
      // each is still charged (or released) before the final settlement reads the store.
      await current.http.close();
      await Promise.all([...inflight]);
      try {
        await current.settlement.stop();
      } finally {
        current.store.close();
        running = undefined;
      }
    },
  };
}

function localAccount(account: Account): LocalAccount {
  if (account.type !== 'local') {
    throw new InvalidInputError('SERVING_PROVIDER_ACCOUNT', 'The provider wallet needs a local account: it signs every response', {
      meta: { type: account.type },
    });
  }
  return account;
}
