/**
 * The provider's billing checks, in the agreed order, before any work is done:
 * headers → signature → nonce (authorise), then, once the body is known, the signed cap against
 * spent + in-flight worst cases + this request's worst case, and the cap against what the ledger
 * holds (reserve). Only then is the receipt's nonce taken, in memory, and the worst case held back
 * until the request is charged its real usage (never more than that worst case) or released unserved.
 *
 * In-flight worst cases count against the cap, so concurrent requests of one user can never make
 * spent overtake the latest signed receipt: the provider always holds a signature for all it served.
 *
 * Each request commits once: when it is charged, its receipt, usage and row together, durably before
 * its response is complete (a released request stores its receipt alone). Until then its nonce is held
 * in memory, so no receipt is served twice while this process runs; a crash mid-generation loses
 * only that uncharged request, whose receipt the user may then spend again, never paying twice.
 */
import type { Address, PublicClient } from 'viem';
import { InvalidInputError } from '../../protocol/errors.ts';
import { claimReceipt, parseBillingHeaders, usageCost } from '../../protocol/serving/billing.ts';
import type { BillingClaim, HeaderSource, TokenPrices } from '../../protocol/serving/billing.ts';
import type { ReceiptDomain } from '../../protocol/serving/receipt.ts';
import { createReceiptVerifier } from '../../protocol/serving/receipt-verifier.ts';
import type { ReceiptVerifierDeps } from '../../protocol/serving/receipt-verifier.ts';
import { nonceReplayed } from './receipts-store.ts';
import type { AcceptedReceipt, ReceiptsStore, UserBilling } from './receipts-store.ts';
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
   * A read past half this age is renewed in the background, so steady traffic seldom waits on it.
   */
  chainCacheMs?: number;
  now?: () => number;
  /** Faster curve math and hashing for the signature check (the provider passes native ones). */
  crypto?: ReceiptVerifierDeps;
};

export type Usage = { id: string; promptTokens: number; completionTokens: number };

export type Reservation = {
  readonly claim: BillingClaim;
  readonly worstCase: bigint;
  /**
   * Charges the served request: its real usage cost, capped at the worst case the receipt was
   * checked against (a backend that counted more than it said it would costs the provider, not the
   * user). Stores it with the receipt and the request row in one transaction; returns cost and spent
   * after, and `durable`, which resolves once that commit is on disk: await it before the response
   * completes (it runs meanwhile, so signing the response costs no extra time).
   */
  charge(usage: Usage): { cost: bigint; spentAfter: bigint; durable: Promise<void> };
  /** Frees the worst case of a request that was not served (generation failed): nothing is charged, its receipt is kept. */
  release(): void;
};

export type BillingSnapshot = UserBilling & { reserved: bigint };

export type BillingGate = {
  /** Steps 1–3: well-formed headers, a signature by the user, a fresh nonce. */
  authorise(headers: HeaderSource): Promise<BillingClaim>;
  /** Steps 5–6, then the receipt's nonce is taken and `worstCase` held until charge or release. */
  reserve(claim: BillingClaim, worstCase: bigint): Promise<Reservation>;
  snapshot(user: Address): BillingSnapshot;
};

export function createBillingGate(options: BillingGateOptions): BillingGate {
  const { store, client, domain, provider, prices } = options;
  const cacheMs = options.chainCacheMs ?? DEFAULT_CHAIN_CACHE_MS;
  const now = options.now ?? Date.now;
  const verifier = createReceiptVerifier({ domain }, options.crypto);
  const reserved = new Map<Address, bigint>();
  // Per user, the newest receipt taken but not yet committed: its nonce is used from the moment it is taken.
  const taken = new Map<Address, AcceptedReceipt>();
  const chainViews = new Map<Address, { view: SubAccountView; readAt: number }>();
  const refreshing = new Map<Address, Promise<SubAccountView>>();
  const heldBy = (user: Address) => reserved.get(user) ?? 0n;

  /** The durable billing with the newest taken receipt over it: what nonces and caps are checked against. */
  function billing(user: Address): UserBilling {
    const stored = store.billing(user);
    const newest = taken.get(user);
    if (!newest || (stored.lastNonce !== undefined && stored.lastNonce >= newest.nonce)) return stored;
    const { nonce, cumulativeAmount, signature } = newest;
    return { ...stored, lastNonce: nonce, receipt: { nonce, cumulativeAmount, signature } };
  }

  function checkNonce(claim: BillingClaim): void {
    const { lastNonce } = billing(claim.user);
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

  function readChain(user: Address): Promise<SubAccountView> {
    const running = refreshing.get(user);
    if (running) return running;
    // Stamped with when the read began: the chain may change while it runs.
    const startedAt = now();
    const read = readSubAccount(client, domain.verifyingContract, user, provider)
      .then((view) => {
        const cached = chainViews.get(user);
        if (!cached || cached.readAt <= startedAt) chainViews.set(user, { view, readAt: startedAt });
        return view;
      })
      .finally(() => refreshing.delete(user));
    refreshing.set(user, read);
    return read;
  }

  async function chainView(user: Address, fresh: boolean): Promise<SubAccountView> {
    const cached = chainViews.get(user);
    const age = cached ? now() - cached.readAt : Infinity;
    if (fresh || !cached || age > cacheMs) {
      // A read already under way may have begun before the chain changed: a fresh view needs its own.
      if (fresh) await refreshing.get(user)?.catch(() => undefined);
      return readChain(user);
    }
    // Past half its life, a view is renewed in the background, so a steady user seldom waits on the chain.
    if (age > cacheMs / 2) readChain(user).catch(() => undefined);
    return cached.view;
  }

  const covered = (claim: BillingClaim, view: SubAccountView) => claim.cumulative <= view.settled + view.balance + view.pendingRefund;

  return {
    async authorise(headers) {
      const claim = parseBillingHeaders(headers);
      const signer = verifier.signer(claimReceipt(claim, provider), claim.signature);
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
      // The awaits above let other requests of this user in: check again, then take the nonce and hold in one tick.
      checkNonce(claim);
      checkCap(claim, worstCase);
      const receipt: AcceptedReceipt = { user: claim.user, nonce: claim.nonce, cumulativeAmount: claim.cumulative, signature: claim.signature };
      taken.set(claim.user, receipt);
      reserved.set(claim.user, heldBy(claim.user) + worstCase);

      let open = true;
      const free = () => {
        open = false;
        const left = heldBy(claim.user) - worstCase;
        if (left > 0n) reserved.set(claim.user, left);
        else reserved.delete(claim.user);
      };
      /** Once committed, the store holds this nonce (or a newer one): memory need not. */
      const committed = () => {
        if (taken.get(claim.user) === receipt) taken.delete(claim.user);
      };
      return {
        claim,
        worstCase,
        charge(usage) {
          if (!open) throw new InvalidInputError('SERVING_ALREADY_CHARGED', 'This reservation was already charged or released', { meta: { id: usage.id } });
          const metered = usageCost(usage.promptTokens, usage.completionTokens, prices);
          const cost = metered < worstCase ? metered : worstCase;
          try {
            const spentAfter = store.recordRequest(receipt, { ...usage, cost });
            committed();
            return { cost, spentAfter, durable: store.sync() };
          } finally {
            free();
          }
        },
        release() {
          if (!open) return;
          free();
          try {
            store.recordRequest(receipt);
            committed();
          } catch {
            // Not stored: the nonce stays taken in memory, and nothing was charged either way.
          }
        },
      };
    },

    snapshot(user) {
      return { ...billing(user), reserved: heldBy(user) };
    },
  };
}
