/**
 * The provider's billing checks, in the agreed order, before any work is done:
 * headers → signature → nonce (authorise), then, once the body is known, the signed cap against
 * spent + in-flight worst cases + this request's worst case, and the cap against what the ledger
 * holds (reserve). Only then is the receipt stored, durably, and the worst case held back until
 * the request is charged its real usage (never more than that worst case) or released unserved.
 *
 * In-flight worst cases count against the cap, so concurrent requests of one user can never make
 * spent overtake the latest signed receipt: the provider always holds a signature for all it served.
 */
import type { Address, PublicClient } from 'viem';
import { InvalidInputError } from '../../protocol/errors.ts';
import { claimReceipt, parseBillingHeaders, usageCost } from '../../protocol/serving/billing.ts';
import type { BillingClaim, HeaderSource, TokenPrices } from '../../protocol/serving/billing.ts';
import { recoverReceiptSigner } from '../../protocol/serving/receipt.ts';
import type { ReceiptDomain } from '../../protocol/serving/receipt.ts';
import { nonceReplayed } from './receipts-store.ts';
import type { ReceiptsStore, UserBilling } from './receipts-store.ts';
import { readSubAccount } from './settlement.ts';
import type { SubAccountView } from './settlement.ts';

export const DEFAULT_CHAIN_CACHE_MS = 5_000;

export type BillingGateOptions = {
  store: ReceiptsStore;
  client: PublicClient;
  domain: ReceiptDomain;
  provider: Address;
  prices: TokenPrices;
  /**
   * How long a sub-account read is trusted. Short against the ledger's refund lock time: only a
   * claimed refund lowers what the chain holds for this provider, and it needs the lock to pass.
   */
  chainCacheMs?: number;
  now?: () => number;
};

export type Usage = { id: string; promptTokens: number; completionTokens: number };

export type Reservation = {
  readonly claim: BillingClaim;
  readonly worstCase: bigint;
  /**
   * Charges the served request: its real usage cost, capped at the worst case the receipt was
   * checked against (a backend that counted more than it said it would costs the provider, not the
   * user). Adds it to spent with the request row in one transaction; returns cost and spent after.
   */
  charge(usage: Usage): { cost: bigint; spentAfter: bigint };
  /** Frees the worst case of a request that was not served (generation failed): nothing is charged. */
  release(): void;
};

export type BillingSnapshot = UserBilling & { reserved: bigint };

export type BillingGate = {
  /** Steps 1–3: well-formed headers, a signature by the user, a fresh nonce. */
  authorise(headers: HeaderSource): Promise<BillingClaim>;
  /** Steps 5–6, then the receipt is stored and `worstCase` held until charge or release. */
  reserve(claim: BillingClaim, worstCase: bigint): Promise<Reservation>;
  snapshot(user: Address): BillingSnapshot;
};

export function createBillingGate(options: BillingGateOptions): BillingGate {
  const { store, client, domain, provider, prices } = options;
  const cacheMs = options.chainCacheMs ?? DEFAULT_CHAIN_CACHE_MS;
  const now = options.now ?? Date.now;
  const reserved = new Map<Address, bigint>();
  const chainViews = new Map<Address, { view: SubAccountView; readAt: number }>();
  const heldBy = (user: Address) => reserved.get(user) ?? 0n;

  function checkNonce(claim: BillingClaim): void {
    const { lastNonce } = store.billing(claim.user);
    if (lastNonce !== undefined && claim.nonce <= lastNonce) throw nonceReplayed(claim.user, claim.nonce, lastNonce);
  }

  function checkCap(claim: BillingClaim, worstCase: bigint): void {
    const { spent } = store.billing(claim.user);
    const held = heldBy(claim.user);
    const required = spent + held + worstCase;
    if (required > claim.cumulative) {
      throw new InvalidInputError('SERVING_FEE_CAP_EXCEEDED', 'The receipt does not cover the worst-case cost of this request', {
        details: `spent ${spent} + in flight ${held} + worst case ${worstCase} > signed cumulative ${claim.cumulative}`,
        meta: {
          required: required.toString(),
          cumulative: claim.cumulative.toString(),
          spent: spent.toString(),
          inFlight: held.toString(),
          worstCase: worstCase.toString(),
        },
      });
    }
  }

  async function chainView(user: Address, fresh: boolean): Promise<SubAccountView> {
    const cached = chainViews.get(user);
    if (!fresh && cached && now() - cached.readAt <= cacheMs) return cached.view;
    const view = await readSubAccount(client, domain.verifyingContract, user, provider);
    chainViews.set(user, { view, readAt: now() });
    return view;
  }

  const covered = (claim: BillingClaim, view: SubAccountView) => claim.cumulative <= view.settled + view.balance + view.pendingRefund;

  return {
    async authorise(headers) {
      const claim = parseBillingHeaders(headers);
      const signer = await recoverReceiptSigner(domain, claimReceipt(claim, provider), claim.signature);
      if (signer !== claim.user) {
        throw new InvalidInputError('SERVING_BAD_SIGNATURE', 'The receipt is not signed by X-Levity-User', {
          details: 'sign the EIP-712 Receipt with this provider as `provider`, on this chain and ledger',
          meta: { user: claim.user, signer, provider, chainId: Number(domain.chainId), ledger: domain.verifyingContract },
        });
      }
      checkNonce(claim);
      return claim;
    },

    async reserve(claim, worstCase) {
      checkCap(claim, worstCase);
      let view = await chainView(claim.user, false);
      // A stale read can only be too low after a fund: read once more before refusing.
      if (!covered(claim, view)) view = await chainView(claim.user, true);
      if (!covered(claim, view)) {
        const holds = view.settled + view.balance + view.pendingRefund;
        throw new InvalidInputError('SERVING_INSUFFICIENT_BALANCE', 'The sub-account for this provider does not hold the signed cumulative amount', {
          details: `settled ${view.settled} + balance ${view.balance} + pending refund ${view.pendingRefund} < cumulative ${claim.cumulative}`,
          meta: {
            required: claim.cumulative.toString(),
            available: holds.toString(),
            shortfall: (claim.cumulative - holds).toString(),
            provider,
          },
        });
      }
      // Only after a lost store: the ledger would refuse a receipt older than one it settled.
      if (claim.nonce < view.lastNonce) throw nonceReplayed(claim.user, claim.nonce, view.lastNonce);
      // The awaits above let other requests of this user in: check again, then store and hold in one tick.
      checkNonce(claim);
      checkCap(claim, worstCase);
      store.acceptReceipt({ user: claim.user, nonce: claim.nonce, cumulativeAmount: claim.cumulative, signature: claim.signature });
      reserved.set(claim.user, heldBy(claim.user) + worstCase);

      let open = true;
      const release = () => {
        if (!open) return;
        open = false;
        const left = heldBy(claim.user) - worstCase;
        if (left > 0n) reserved.set(claim.user, left);
        else reserved.delete(claim.user);
      };
      return {
        claim,
        worstCase,
        charge(usage) {
          if (!open) throw new InvalidInputError('SERVING_ALREADY_CHARGED', 'This reservation was already charged or released', { meta: { id: usage.id } });
          const metered = usageCost(usage.promptTokens, usage.completionTokens, prices);
          const cost = metered < worstCase ? metered : worstCase;
          try {
            return { cost, spentAfter: store.recordUsage({ ...usage, user: claim.user, nonce: claim.nonce, cost }) };
          } finally {
            release();
          }
        },
        release,
      };
    },

    snapshot(user) {
      return { ...store.billing(user), reserved: heldBy(user) };
    },
  };
}
