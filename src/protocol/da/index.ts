/** Levity DA protocol rules: payload layout, KZG cells, wire format, certificates, custody, BLS, sampling. */
export * from './constants.ts';
export * from './types.ts';
export * from './payload-blobs.ts';
export * from './kzg.ts';
export * from './cell-wire.ts';
export * from './sampling.ts';
export * from './certificate.ts';
export * from './custody.ts';
export * from './bls.ts';
export * from './bls-eip2537.ts';
export * from './da-contract-abi.ts';
