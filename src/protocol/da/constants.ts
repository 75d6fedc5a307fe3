/**
 * Sizes and domain tags of Levity DA. The KZG numbers are EIP-4844/EIP-7594's (c-kzg 4.1.0); the payload numbers
 * follow from packing 31 payload bytes into each 32-byte field element so that every element stays below the
 * BLS12-381 scalar modulus without a comparison.
 */

export const BYTES_PER_FIELD_ELEMENT = 32;
export const FIELD_ELEMENTS_PER_BLOB = 4096;
export const BYTES_PER_BLOB = BYTES_PER_FIELD_ELEMENT * FIELD_ELEMENTS_PER_BLOB; // 131,072
export const PAYLOAD_BYTES_PER_FIELD_ELEMENT = 31;
export const PAYLOAD_BYTES_PER_BLOB = PAYLOAD_BYTES_PER_FIELD_ELEMENT * FIELD_ELEMENTS_PER_BLOB; // 126,976

/** The extended blob (rate 1/2) is cut into 128 cells; cells 0..63 are the blob itself. */
export const CELLS_PER_BLOB = 128;
export const FIELD_ELEMENTS_PER_CELL = 64;
export const BYTES_PER_CELL = BYTES_PER_FIELD_ELEMENT * FIELD_ELEMENTS_PER_CELL; // 2,048
export const BYTES_PER_PROOF = 48;
export const BYTES_PER_COMMITMENT = 48;
/** Any half of the cells rebuilds the blob. */
export const RECOVERY_CELLS = CELLS_PER_BLOB / 2;

/** The payload stream starts with its length as a u64 big-endian. */
export const LENGTH_PREFIX_BYTES = 8;
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;

/** BLS12-381 scalar field modulus r: c-kzg rejects a field element ≥ r. */
export const BLS_MODULUS = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001n;

/** Ethereum's proof-of-possession ciphersuite (min-pk): signatures in G2, keys in G1. */
export const BLS_DST = 'BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_';
export const BLS_PUBLIC_KEY_BYTES = 48;
export const BLS_SIGNATURE_BYTES = 96;
