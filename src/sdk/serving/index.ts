/** Serving actions for users: the ledger, the service registry, and a paying, verifying `fetch` for OpenAI clients. */
export {
  deposit,
  withdraw,
  fund,
  requestRefund,
  claimRefund,
  ledgerAccount,
  subAccount,
  ledgerError,
  ServingLedgerErrorCode,
} from './ledger.ts';
export type {
  ServingWallet,
  LedgerReadParameters,
  LedgerWriteParameters,
  LedgerTransaction,
  DepositParameters,
  WithdrawParameters,
  FundParameters,
  RequestRefundParameters,
  RequestRefundReturnType,
  ClaimRefundParameters,
  ClaimRefundReturnType,
  LedgerAccountParameters,
  LedgerAccount,
  SubAccountParameters,
  SubAccount,
} from './ledger.ts';
export { listServices } from './services.ts';
export type { ListServicesParameters, ServiceRecord } from './services.ts';
export { billingFetch, estimateRequest, receiptOf, DEFAULT_MAX_TOKENS } from './billing-fetch.ts';
export type { BillingFetch, BillingFetchParameters, BillingState, FetchLike as ServingFetchLike, ModelPrices, Quote } from './billing-fetch.ts';
export { ServingClientErrorCode } from './response-check.ts';
export type { BilledResponse } from './response-check.ts';
export { chat, responseError } from './chat.ts';
export type { ChatMessage, ChatParameters, ChatReturnType } from './chat.ts';
export { servingClient } from './serving-client.ts';
export type { ServingClient, ServingClientParameters } from './serving-client.ts';
