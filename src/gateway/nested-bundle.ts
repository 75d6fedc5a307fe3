import { signatureMessage, unbundle, verifySignatureAsync } from '../protocol/ans104/index.ts';
import type { DataItem } from '../protocol/ans104/types.ts';
import { InvalidInputError } from '../protocol/errors.ts';
import type { NestedPlacement } from './gateway-store.ts';

/** Deep hashes computed between two turns of the event loop, so a big bundle never stalls other requests for long. */
const HASH_SLICE = 256;

/**
 * Checks every item of a nested bundle (an item tagged Bundle-Format: binary, Bundle-Version:
 * 2.0.0) and says where each lies in the outer item's raw bytes. All or nothing: one malformed
 * item or bad signature refuses the whole bundle with a typed error naming it, so a client
 * never has to find out which half of its upload landed. Deep hashes run here in slices;
 * signatures are checked on libuv's thread pool, on every core, while the next slice hashes.
 */
export async function verifyNestedBundle(outer: DataItem): Promise<NestedPlacement[]> {
  let items: DataItem[];
  let entries: { offset: number; size: number }[];
  try {
    ({ items, entries } = unbundle(outer.data));
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const what = error.details && !error.shortMessage.includes(error.details) ? `${error.shortMessage}: ${error.details}` : error.shortMessage;
    throw new InvalidInputError(error.code, `data item ${outer.id} is tagged as an ANS-104 bundle, but ${lowerFirst(what)}`, {
      details: error.details,
      meta: { id: outer.id, ...error.meta },
      cause: error,
    });
  }
  const checks: Promise<boolean>[] = [];
  for (let start = 0; start < items.length; start += HASH_SLICE) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const item of items.slice(start, start + HASH_SLICE)) {
      checks.push(verifySignatureAsync(item.signatureType, item.owner, signatureMessage(item), item.signature));
    }
  }
  const valid = await Promise.all(checks);
  const bad = valid.indexOf(false);
  if (bad >= 0) {
    const item = items[bad]!;
    throw new InvalidInputError('GATEWAY_BAD_SIGNATURE', `data item ${item.id} (item ${bad} of bundle ${outer.id}) has an invalid signature`, {
      meta: { id: outer.id, index: bad, nestedId: item.id, signatureType: item.signatureType },
    });
  }
  const base = outer.raw.length - outer.data.length;
  return entries.map((entry) => ({ offset: base + entry.offset, size: entry.size }));
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
