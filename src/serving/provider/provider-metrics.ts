import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Hono } from 'hono';
import type { ReceiptsStore } from './receipts-store.ts';
import type { SettleResult } from './settlement.ts';

/**
 * The provider's Prometheus series: requests by route and status, tokens and wei charged, what
 * the chain still owes, and settlement outcomes. Wei go into float counters: exact amounts live
 * in the receipts store and on chain; a dashboard needs the trend.
 */
export function providerMetrics(registry: Registry, store: () => ReceiptsStore | undefined) {
  const requests = new Counter({
    name: 'levity_provider_requests_total',
    help: 'OpenAI API requests answered, by route and HTTP status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const tokens = new Counter({ name: 'levity_provider_tokens_total', help: 'Tokens charged, by kind', labelNames: ['kind'], registers: [registry] });
  const charged = new Counter({ name: 'levity_provider_charged_wei_total', help: 'Wei charged for served requests', registers: [registry] });
  const settlements = new Counter({
    name: 'levity_provider_settlements_total',
    help: 'Settlement attempts per user, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const paid = new Counter({ name: 'levity_provider_settled_wei_total', help: 'Wei the ledger paid this provider', registers: [registry] });
  new Gauge({
    name: 'levity_provider_unsettled_wei',
    help: 'Wei charged but not yet paid on chain',
    registers: [registry],
    collect() {
      const owed = (store()?.unsettled() ?? []).reduce((sum, billing) => sum + (billing.spent - billing.settled), 0n);
      this.set(Number(owed));
    },
  });

  return {
    /** Counts every answer of the OpenAI routes (streams by the status they started with). */
    countRequests(app: Hono) {
      app.use('/v1/*', async (c, next) => {
        await next();
        requests.inc({ route: c.req.routePath, status: String(c.res.status) });
      });
    },
    /** Counts an answer of the paid routes, which are served ahead of the app (serving-route.ts). */
    answered(route: string, status: number) {
      requests.inc({ route, status: String(status) });
    },
    /** The store, counting what each served request is charged as it is recorded. */
    metered(inner: ReceiptsStore): ReceiptsStore {
      // Bound once: a labelled inc() looks its series up by the labels on every call, on the hot path.
      const promptTokens = tokens.labels({ kind: 'prompt' });
      const completionTokens = tokens.labels({ kind: 'completion' });
      return {
        ...inner,
        recordRequest(receipt, usage) {
          const spent = inner.recordRequest(receipt, usage);
          if (usage) {
            promptTokens.inc(usage.promptTokens);
            completionTokens.inc(usage.completionTokens);
            charged.inc(Number(usage.cost));
          }
          return spent;
        },
      };
    },
    settled(result: SettleResult) {
      settlements.inc({ outcome: result.outcome });
      if (result.paid > 0n) paid.inc(Number(result.paid));
    },
  };
}
