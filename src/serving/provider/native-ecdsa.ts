/**
 * libsecp256k1 (the `secp256k1` package's N-API prebuilds) behind the protocol's Ecdsa port: a
 * provider recovers one receipt and signs one response per request, and native code does each in
 * tens of microseconds where the pure-JS curve math takes about a millisecond and makes garbage.
 * libsecp256k1 signs with RFC 6979 nonces and always low s, as viem does, so its signatures are
 * byte-identical; recovery accepts exactly ecrecover's r, s range (1..n−1).
 *
 * Loaded through the package's `bindings` entry, never its index: that index silently falls back to
 * `elliptic` (slower than noble) when the addon cannot load, and a provider should know which it runs.
 */
import { createRequire } from 'node:module';
import type { Ecdsa } from '../../protocol/serving/ecdsa.ts';

type Secp256k1Bindings = {
  ecdsaSign(digest: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(compact: Uint8Array, recovery: number, digest: Uint8Array, compressed: false): Uint8Array;
};

let loaded: { ecdsa: Ecdsa } | { error: unknown } | undefined;

/** The native Ecdsa, or undefined (with why in `nativeEcdsaError()`) where the addon cannot load. */
export function nativeEcdsa(): Ecdsa | undefined {
  loaded ??= load();
  return 'ecdsa' in loaded ? loaded.ecdsa : undefined;
}

/** Why nativeEcdsa() is undefined, for the log. */
export function nativeEcdsaError(): unknown {
  loaded ??= load();
  return 'error' in loaded ? loaded.error : undefined;
}

function load(): { ecdsa: Ecdsa } | { error: unknown } {
  let native: Secp256k1Bindings;
  try {
    native = createRequire(import.meta.url)('secp256k1/bindings') as Secp256k1Bindings;
  } catch (error) {
    return { error };
  }
  return {
    ecdsa: {
      recover(digest, compact, recovery) {
        try {
          return native.ecdsaRecover(compact, recovery, digest, false).subarray(1);
        } catch {
          return undefined;
        }
      },
      sign(digest, privateKey) {
        const { signature, recid } = native.ecdsaSign(digest, privateKey);
        // recid 2 and 3 (x ≥ n) need an r above the group order: about 2^-128 likely, and unusable on chain.
        if (recid !== 0 && recid !== 1) throw new Error(`secp256k1 gave recovery id ${recid}`);
        return { compact: signature, recovery: recid };
      },
    },
  };
}
