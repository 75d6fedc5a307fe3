/** Levity serving protocol rules: receipts, billing headers and costs, response signatures, contract ABIs. */
export * from './receipt.ts';
export * from './receipt-verifier.ts';
export * from './ecdsa.ts';
export * from './billing.ts';
export * from './response-signature.ts';
export * from './service-registry-abi.ts';
export * from './serving-ledger-abi.ts';
