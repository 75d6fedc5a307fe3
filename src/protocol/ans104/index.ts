/** ANS-104 data items and bundles (spec ao.md §4.1). */
export type * from './types.ts';
export * from './base64url.ts';
export * from './avro-tags.ts';
export * from './deep-hash.ts';
export * from './signature-types.ts';
export * from './data-item.ts';
export * from './signers.ts';
export * from './verify.ts';
export * from './address.ts';
export * from './bundle.ts';
