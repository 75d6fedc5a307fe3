import { randomBytes } from 'node:crypto';
import { createDataItem } from '../../protocol/ans104/index.ts';
import type { DataItemSigner } from '../../protocol/ans104/index.ts';
import type { Tag } from '../../protocol/ao/index.ts';
import { aoFetch, assertId, assertTags, assertUrl, hasData, jsonBody } from './ao-http.ts';

export type SendMessageParameters = {
  /** MU base URL. */
  mu: string;
  signer: DataItemSigner;
  /** Target process id. */
  process: string;
  tags?: readonly Tag[];
  data?: string | Uint8Array;
  /** Exactly 32 bytes once UTF-8 encoded; a random one by default. */
  anchor?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
};

export type SendMessageReturnType = { messageId: string };

const RESERVED_MESSAGE_TAGS = new Set(['Variant', 'Type']);

/**
 * aoconnect's Message layout: the user's tags (minus `Variant`, `Type` and `Data-Protocol=ao`),
 * `Content-Type` when there is no data, then `SDK`, `Data-Protocol`, `Variant`, `Type`.
 */
export function messageTags(parameters: { tags?: readonly Tag[]; hasData: boolean }): Tag[] {
  const user = assertTags(parameters.tags);
  const tags = user.filter((tag) => !RESERVED_MESSAGE_TAGS.has(tag.name) && !(tag.name === 'Data-Protocol' && tag.value === 'ao'));
  if (!parameters.hasData) tags.push({ name: 'Content-Type', value: 'text/plain' });
  tags.push(
    { name: 'SDK', value: 'levity' },
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: 'ao.TN.1' },
    { name: 'Type', value: 'Message' },
  );
  return tags;
}

/** Signs a message to `process` and hands it to the MU; resolves once it is scheduled. */
export async function sendMessage(parameters: SendMessageParameters): Promise<SendMessageReturnType> {
  const mu = assertUrl('mu', parameters.mu);
  assertId('process', parameters.process);
  const withData = hasData(parameters.data);
  const item = await createDataItem({
    signer: parameters.signer,
    target: parameters.process,
    anchor: parameters.anchor ?? randomAnchor(),
    tags: messageTags({ tags: parameters.tags, hasData: withData }),
    data: withData ? parameters.data : ' ',
  });
  const response = await aoFetch({
    unit: 'MU',
    url: `${mu}/`,
    method: 'POST',
    body: item.raw,
    contentType: 'application/octet-stream',
    timeoutMs: parameters.timeoutMs,
    signal: parameters.signal,
  });
  await jsonBody('MU', response);
  // The id is the item's own (sha256 of our signature), as aoconnect returns it: no need to trust the reply.
  return { messageId: item.id };
}

/**
 * ed25519 and secp256k1 signatures are deterministic, so the same message sent twice (say `x = x + 1`
 * evaluated twice) would get the same id and the SU would refuse the second as a duplicate.
 * aoconnect's RSA-PSS signer hides this with random salt; a random anchor does it for every type.
 */
export function randomAnchor(): string {
  return randomBytes(24).toString('base64url');
}
