/**
 * ANS-104 data items (spec ao.md §4.1): parse, serialise, and the deep hash that is signed.
 * Layout, little-endian: u16 type ‖ signature ‖ owner ‖ target flag [‖ 32 B] ‖ anchor flag [‖ 32 B]
 * ‖ u64 tag count ‖ u64 tag bytes ‖ Avro tags ‖ data.
 */
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';
import { InvalidInputError } from '../errors.ts';
import { decodeTags, encodeTags } from './avro-tags.ts';
import { fromB64Url, isTxId, toB64Url } from './base64url.ts';
import { deepHashBlob, deepHashListStart, deepHashListStep } from './deep-hash.ts';
import { signatureTypeInfo } from './signature-types.ts';
import type { CreateDataItemParameters, DataItem, Tag } from './types.ts';

/** arbundles refuses anything shorter (`DataItem.verify`). */
export const MIN_DATA_ITEM_SIZE = 80;
export const MAX_TAG_BYTES = 4096;

function malformed(details: string): InvalidInputError {
  return new InvalidInputError('ANS104_MALFORMED', 'Malformed ANS-104 data item', { details });
}

/** base64url(sha256(signature)): the id of the item carrying this signature. */
export function dataItemId(signature: Uint8Array): string {
  return hash('sha256', signature, 'base64url');
}

/** Reads a u64 that must fit in a safe integer (lengths here never come close). */
function readU64(view: DataView, offset: number, what: string): number {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (high >= 0x200000) throw malformed(`${what} does not fit in 53 bits`);
  return high * 2 ** 32 + low;
}

/** Parses and validates the layout; all byte fields are views into `raw` (no copies). */
export function parseDataItem(raw: Uint8Array): DataItem {
  if (!(raw instanceof Uint8Array)) throw malformed('expected bytes');
  if (raw.byteLength < MIN_DATA_ITEM_SIZE) {
    throw malformed(`${raw.byteLength} bytes, fewer than the minimum ${MIN_DATA_ITEM_SIZE}`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const signatureType = view.getUint16(0, true);
  const info = signatureTypeInfo(signatureType);
  if (info === undefined) throw malformed(`unknown signature type ${signatureType}`);
  const end = raw.byteLength;

  let pos = 2;
  const signature = raw.subarray(pos, pos + info.signatureLength);
  pos += info.signatureLength;
  const owner = raw.subarray(pos, pos + info.ownerLength);
  pos += info.ownerLength;

  const readOptional32 = (what: string): Uint8Array | undefined => {
    if (pos >= end) throw malformed(`truncated before the ${what} flag at offset ${pos}`);
    const flag = raw[pos]!;
    pos += 1;
    if (flag === 0) return undefined;
    if (flag !== 1) throw malformed(`${what} flag is ${flag}, not 0 or 1`);
    if (pos + 32 > end) throw malformed(`truncated ${what}: needs 32 bytes at offset ${pos}`);
    const field = raw.subarray(pos, pos + 32);
    pos += 32;
    return field;
  };
  const target = readOptional32('target');
  const anchor = readOptional32('anchor');

  if (pos + 16 > end) throw malformed(`truncated tag header at offset ${pos}`);
  const tagCount = readU64(view, pos, 'tag count');
  const tagBytes = readU64(view, pos + 8, 'tag byte length');
  pos += 16;
  if (tagBytes > MAX_TAG_BYTES) throw malformed(`${tagBytes} tag bytes, more than ${MAX_TAG_BYTES}`);
  if (pos + tagBytes > end) throw malformed(`tag bytes (${tagBytes}) run past the end of the item`);
  const rawTags = raw.subarray(pos, pos + tagBytes);
  pos += tagBytes;
  const tags = decodeTags(rawTags);
  if (tags.length !== tagCount) throw malformed(`tag count says ${tagCount} but the tag bytes hold ${tags.length}`);

  return {
    signatureType,
    signature,
    owner,
    target,
    anchor,
    tags,
    rawTags,
    data: raw.subarray(pos),
    raw,
    id: dataItemId(signature),
  };
}

export type SignatureMessageFields = {
  signatureType: number;
  owner: Uint8Array;
  target: Uint8Array | undefined;
  anchor: Uint8Array | undefined;
  rawTags: Uint8Array;
  data: Uint8Array;
};

const EMPTY = new Uint8Array(0);
const EMPTY_BLOB_HASH = deepHashBlob(EMPTY);
/** deepHash of ["dataitem", "1", type] folded into the 8-item list: the same for every item of a type. */
const prefixCache = new Map<number, Uint8Array>();
function messagePrefix(signatureType: number): Uint8Array {
  let acc = prefixCache.get(signatureType);
  if (acc === undefined) {
    acc = deepHashListStart(8);
    for (const text of ['dataitem', '1', String(signatureType)]) acc = deepHashListStep(acc, deepHashBlob(Buffer.from(text)));
    if (prefixCache.size < 64) prefixCache.set(signatureType, acc);
  }
  return acc;
}

/**
 * The 48-byte message every signature type signs:
 * deepHash(["dataitem", "1", type, owner, target, anchor, rawTags, data]), absent fields as empty blobs.
 */
export function signatureMessage(fields: SignatureMessageFields): Uint8Array {
  let acc = messagePrefix(fields.signatureType);
  acc = deepHashListStep(acc, deepHashBlob(fields.owner));
  acc = deepHashListStep(acc, fields.target === undefined || fields.target.length === 0 ? EMPTY_BLOB_HASH : deepHashBlob(fields.target));
  acc = deepHashListStep(acc, fields.anchor === undefined || fields.anchor.length === 0 ? EMPTY_BLOB_HASH : deepHashBlob(fields.anchor));
  acc = deepHashListStep(acc, deepHashBlob(fields.rawTags));
  return deepHashListStep(acc, deepHashBlob(fields.data));
}

export type UnsignedDataItemFields = {
  signatureType: number;
  owner: Uint8Array;
  target?: Uint8Array | undefined;
  anchor?: Uint8Array | undefined;
  tags?: readonly Tag[] | undefined;
  data?: Uint8Array | undefined;
};

export type UnsignedDataItem = {
  /** The serialised item with a zero signature; sign `message` and write it at offset 2. */
  raw: Uint8Array;
  message: Uint8Array;
  signatureLength: number;
};

/** Serialises an item with a zeroed signature, checking every field size. */
export function serializeUnsigned(fields: UnsignedDataItemFields): UnsignedDataItem {
  const info = signatureTypeInfo(fields.signatureType);
  if (info === undefined) {
    throw new InvalidInputError('ANS104_UNKNOWN_SIGNATURE_TYPE', `Unknown signature type ${fields.signatureType}`);
  }
  if (fields.owner.byteLength !== info.ownerLength) {
    throw new InvalidInputError('ANS104_BAD_OWNER', `The owner of a type ${fields.signatureType} item is ${info.ownerLength} bytes`, {
      details: `got ${fields.owner.byteLength} bytes`,
    });
  }
  for (const [what, field] of [['target', fields.target], ['anchor', fields.anchor]] as const) {
    if (field !== undefined && field.byteLength !== 32) {
      throw new InvalidInputError(`ANS104_BAD_${what.toUpperCase()}`, `The ${what} must be 32 bytes`, {
        details: `got ${field.byteLength} bytes`,
      });
    }
  }
  const tags = fields.tags ?? [];
  const rawTags = encodeTags(tags);
  if (rawTags.byteLength > MAX_TAG_BYTES) {
    throw new InvalidInputError('ANS104_TAGS_TOO_LARGE', `Tags take more than ${MAX_TAG_BYTES} bytes`, {
      details: `${tags.length} tags encode to ${rawTags.byteLength} bytes`,
    });
  }
  const data = fields.data ?? EMPTY;
  const { target, anchor } = fields;
  const size =
    2 + info.signatureLength + info.ownerLength + 1 + (target ? 32 : 0) + 1 + (anchor ? 32 : 0) + 16 + rawTags.byteLength + data.byteLength;
  const raw = new Uint8Array(size);
  const view = new DataView(raw.buffer);
  view.setUint16(0, fields.signatureType, true);
  let pos = 2 + info.signatureLength;
  raw.set(fields.owner, pos);
  pos += info.ownerLength;
  for (const field of [target, anchor]) {
    raw[pos++] = field ? 1 : 0;
    if (field) {
      raw.set(field, pos);
      pos += 32;
    }
  }
  view.setBigUint64(pos, BigInt(tags.length), true);
  view.setBigUint64(pos + 8, BigInt(rawTags.byteLength), true);
  pos += 16;
  raw.set(rawTags, pos);
  raw.set(data, pos + rawTags.byteLength);
  const message = signatureMessage({ signatureType: fields.signatureType, owner: fields.owner, target, anchor, rawTags, data });
  return { raw, message, signatureLength: info.signatureLength };
}

/** Writes a signature into an unsigned item and parses the result. */
export function attachSignature(unsigned: UnsignedDataItem, signature: Uint8Array): DataItem {
  if (signature.byteLength !== unsigned.signatureLength) {
    throw new InvalidInputError('ANS104_BAD_SIGNATURE', `The signature must be ${unsigned.signatureLength} bytes`, {
      details: `the signer returned ${signature.byteLength} bytes`,
    });
  }
  unsigned.raw.set(signature, 2);
  return parseDataItem(unsigned.raw);
}

/** Builds and signs an item as arbundles' `createData` + `sign` would, with typed errors for bad fields. */
export async function createDataItem(params: CreateDataItemParameters): Promise<DataItem> {
  const { signer } = params;
  let target: Uint8Array | undefined;
  if (params.target !== undefined && params.target !== '') {
    if (!isTxId(params.target)) {
      throw new InvalidInputError('ANS104_BAD_TARGET', 'The target must be a 43-character base64url id', {
        details: `got ${JSON.stringify(params.target.slice(0, 64))}`,
      });
    }
    target = fromB64Url(params.target);
  }
  let anchor: Uint8Array | undefined;
  if (params.anchor !== undefined && params.anchor !== '') {
    anchor = Buffer.from(params.anchor, 'utf8');
    if (anchor.byteLength !== 32) {
      throw new InvalidInputError('ANS104_BAD_ANCHOR', 'The anchor must be 32 bytes once UTF-8 encoded', {
        details: `got ${anchor.byteLength} bytes`,
      });
    }
  }
  const data = typeof params.data === 'string' ? Buffer.from(params.data, 'utf8') : params.data;
  const unsigned = serializeUnsigned({
    signatureType: signer.signatureType,
    owner: signer.publicKey,
    target,
    anchor,
    tags: params.tags,
    data,
  });
  const signature = await signer.sign(unsigned.message);
  return attachSignature(unsigned, signature);
}

/** The target as a 43-char id, or undefined. */
export function dataItemTarget(item: DataItem): string | undefined {
  return item.target === undefined ? undefined : toB64Url(item.target);
}
