/** The ANS-104 signature types arbundles 1.0.3 knows (spec ao.md §4.1), with their field sizes. */

export type SignatureTypeInfo = {
  readonly name: string;
  readonly signatureLength: number;
  readonly ownerLength: number;
};

export const SIGNATURE_TYPES = {
  1: { name: 'arweave', signatureLength: 512, ownerLength: 512 },
  2: { name: 'ed25519', signatureLength: 64, ownerLength: 32 },
  3: { name: 'ethereum', signatureLength: 65, ownerLength: 65 },
  4: { name: 'solana', signatureLength: 64, ownerLength: 32 },
  5: { name: 'injectedAptos', signatureLength: 64, ownerLength: 32 },
  6: { name: 'multiAptos', signatureLength: 2052, ownerLength: 1025 },
  7: { name: 'typedEthereum', signatureLength: 65, ownerLength: 42 },
  101: { name: 'kyve', signatureLength: 65, ownerLength: 65 },
} as const satisfies Record<number, SignatureTypeInfo>;

export type SignatureType = keyof typeof SIGNATURE_TYPES;

export const SIGNATURE_TYPE = {
  ARWEAVE: 1,
  ED25519: 2,
  ETHEREUM: 3,
  SOLANA: 4,
  INJECTED_APTOS: 5,
  MULTI_APTOS: 6,
  TYPED_ETHEREUM: 7,
  KYVE: 101,
} as const;

/** The table entry for a type number, or undefined for a type no one can verify. */
export function signatureTypeInfo(signatureType: number): SignatureTypeInfo | undefined {
  return Object.hasOwn(SIGNATURE_TYPES, signatureType)
    ? SIGNATURE_TYPES[signatureType as SignatureType]
    : undefined;
}
