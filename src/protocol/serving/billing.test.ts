import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Hex } from 'viem';
import { InvalidInputError } from '../errors.ts';
import { BILLING_HEADERS, billingHeaders, claimReceipt, parseBillingHeaders, usageCost, worstCaseCost } from './billing.ts';
import type { BillingClaim, HeaderSource } from './billing.ts';

const claim: BillingClaim = {
  user: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8',
  nonce: 42n,
  cumulative: 10n ** 18n + 5n,
  signature: `0x${'ab'.repeat(64)}1c` as Hex,
};
const prices = { inputPricePerToken: 3n, outputPricePerToken: 7n };

function rejects(headers: HeaderSource, code: string, meta?: Record<string, unknown>): void {
  assert.throws(
    () => parseBillingHeaders(headers),
    (err: unknown) => {
      assert.ok(err instanceof InvalidInputError);
      assert.equal(err.code, code);
      if (meta) assert.deepEqual(err.meta, meta);
      return true;
    },
  );
}

describe('billing headers', () => {
  it('round-trips through Web Headers and through a lower-cased plain object', () => {
    const headers = billingHeaders(claim);
    assert.deepEqual(Object.keys(headers), ['X-Levity-User', 'X-Levity-Nonce', 'X-Levity-Cumulative', 'X-Levity-Signature']);
    assert.equal(headers['X-Levity-Cumulative'], '1000000000000000005');
    assert.deepEqual(parseBillingHeaders(new Headers(headers)), claim);
    const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
    assert.deepEqual(parseBillingHeaders(lower), claim);
    assert.deepEqual(parseBillingHeaders({ ...lower, 'x-levity-nonce': ['42'] }), claim);
  });

  it('normalises a lower-case user address to its checksum', () => {
    const parsed = parseBillingHeaders({ ...billingHeaders(claim), [BILLING_HEADERS.user]: claim.user.toLowerCase() });
    assert.equal(parsed.user, claim.user);
  });

  it('names every missing header', () => {
    rejects({}, 'SERVING_BILLING_MISSING', { missing: Object.values(BILLING_HEADERS) });
    const { [BILLING_HEADERS.signature]: _, ...noSignature } = billingHeaders(claim);
    rejects(noSignature, 'SERVING_BILLING_MISSING', { missing: ['X-Levity-Signature'] });
    rejects({ ...billingHeaders(claim), [BILLING_HEADERS.nonce]: undefined }, 'SERVING_BILLING_MISSING', { missing: ['X-Levity-Nonce'] });
  });

  it('rejects malformed values, naming the header', () => {
    const cases: Array<[string, string]> = [
      [BILLING_HEADERS.user, 'alice'],
      [BILLING_HEADERS.user, '0x1234'],
      // A mixed-case address whose checksum is wrong is a typo, not an address.
      [BILLING_HEADERS.user, '0x70997970c51812dc3a010c7d01b50e0d17dc79C8'],
      [BILLING_HEADERS.nonce, ''],
      [BILLING_HEADERS.nonce, '-1'],
      [BILLING_HEADERS.nonce, '007'],
      [BILLING_HEADERS.nonce, '1.5'],
      [BILLING_HEADERS.nonce, '0x10'],
      [BILLING_HEADERS.nonce, '1e3'],
      [BILLING_HEADERS.cumulative, (2n ** 256n).toString()],
      [BILLING_HEADERS.cumulative, '9'.repeat(100)],
      [BILLING_HEADERS.signature, '0x1234'],
      [BILLING_HEADERS.signature, `${claim.signature}00`],
      [BILLING_HEADERS.signature, claim.signature.slice(2)],
      [BILLING_HEADERS.signature, `0x${'zz'.repeat(65)}`],
    ];
    for (const [header, value] of cases) {
      rejects({ ...billingHeaders(claim), [header]: value }, 'SERVING_BILLING_MALFORMED', { header });
    }
    rejects({ ...billingHeaders(claim), [BILLING_HEADERS.nonce]: ['1', '2'] }, 'SERVING_BILLING_MALFORMED', { header: BILLING_HEADERS.nonce });
    // Web Headers join a repeated header with ", ", which is no number.
    const repeated = new Headers(billingHeaders(claim));
    repeated.append(BILLING_HEADERS.cumulative, '1');
    rejects(repeated, 'SERVING_BILLING_MALFORMED', { header: BILLING_HEADERS.cumulative });
  });

  it('accepts the extremes of a uint256', () => {
    const max = (2n ** 256n - 1n).toString();
    const parsed = parseBillingHeaders({ ...billingHeaders(claim), [BILLING_HEADERS.nonce]: '0', [BILLING_HEADERS.cumulative]: max });
    assert.equal(parsed.nonce, 0n);
    assert.equal(parsed.cumulative, 2n ** 256n - 1n);
  });

  it('turns a claim into the receipt its signature covers', () => {
    const provider = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
    assert.deepEqual(claimReceipt(claim, provider), { user: claim.user, provider, cumulativeAmount: claim.cumulative, nonce: 42n });
  });
});

describe('billing costs', () => {
  it('prices the worst case and the real usage per token', () => {
    assert.equal(worstCaseCost(10, 100, prices), 10n * 3n + 100n * 7n);
    assert.equal(usageCost(10, 4, prices), 10n * 3n + 4n * 7n);
    assert.equal(usageCost(0n, 0n, prices), 0n);
    // Exact at sizes where a float would round.
    const big = { inputPricePerToken: 10n ** 18n + 1n, outputPricePerToken: 10n ** 18n + 3n };
    assert.equal(worstCaseCost(2 ** 40, 2 ** 40, big), 2n ** 40n * (2n * 10n ** 18n + 4n));
  });

  it('refuses token counts that are not non-negative integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, -1n]) {
      assert.throws(
        () => usageCost(bad, 1, prices),
        (err: unknown) => err instanceof InvalidInputError && err.code === 'SERVING_TOKENS_INVALID',
      );
      assert.throws(() => worstCaseCost(1, bad, prices), InvalidInputError);
    }
  });
});
