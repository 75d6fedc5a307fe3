/**
 * The provider's unpaid routes on its Hono app: the model list and a user's billing state. The paid
 * endpoints (chat and completions) are served by serving-handler.ts, put on the node server ahead of
 * the app by serving-route.ts.
 */
import type { Hono } from 'hono';
import { getAddress, isAddress } from 'viem';
import type { LocalAccount } from 'viem';
import { InvalidInputError } from '../../protocol/errors.ts';
import type { TokenPrices } from '../../protocol/serving/billing.ts';
import type { Logger } from '../../shared/log.ts';
import type { BillingGate } from './billing-gate.ts';
import type { ChatBackend } from '../backends/backend.ts';
import { errorReply, jsonText, unknownModel } from './serving-handler.ts';

export type ProviderRoutesOptions = {
  app: Hono;
  log: Logger;
  account: LocalAccount;
  gate: BillingGate;
  backend: ChatBackend;
  prices: TokenPrices;
  now?: () => number;
};

/** JSON with bigints as decimal strings: a stray bigint in error metadata must not become a 500. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(jsonText(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

export function errorJson(error: unknown, log: Logger): Response {
  const { status, headers, body } = errorReply(error, log);
  return new Response(body, { status, headers });
}

export function addProviderRoutes(options: ProviderRoutesOptions): void {
  const { app, log, account, gate, backend, prices } = options;
  const now = options.now ?? Date.now;
  const provider = account.address;
  const created = Math.floor(now() / 1000);
  const modelEntry = (id: string) => ({
    id,
    object: 'model',
    created,
    owned_by: provider,
    levity: { provider, inputPricePerToken: prices.inputPricePerToken.toString(), outputPricePerToken: prices.outputPricePerToken.toString() },
  });

  app.get('/v1/models', () => jsonResponse(200, { object: 'list', data: backend.models.map(modelEntry) }));
  app.get('/v1/models/:id', (c) => {
    const id = c.req.param('id');
    if (!backend.models.includes(id)) return errorJson(unknownModel(id, backend.models), log);
    return jsonResponse(200, modelEntry(id));
  });
  app.get('/v1/billing/:user', (c) => {
    const raw = c.req.param('user');
    if (!isAddress(raw)) return errorJson(new InvalidInputError('SERVING_BAD_ADDRESS', `${raw} is not an address`, { meta: { param: 'user' } }), log);
    const billing = gate.snapshot(getAddress(raw));
    return jsonResponse(200, {
      user: billing.user,
      provider,
      lastNonce: billing.lastNonce?.toString() ?? null,
      nextNonce: billing.lastNonce === undefined ? '0' : (billing.lastNonce + 1n).toString(),
      cumulative: billing.receipt?.cumulativeAmount.toString() ?? '0',
      spent: billing.spent.toString(),
      settled: billing.settled.toString(),
      inFlight: billing.reserved.toString(),
    });
  });
}
