import { createDataItem } from '../../protocol/ans104/index.ts';
import type { DataItemSigner } from '../../protocol/ans104/index.ts';
import { tagValue } from '../../protocol/ao/index.ts';
import type { Tag } from '../../protocol/ao/index.ts';
import { randomAnchor } from './send-message.ts';
import { aoFetch, assertId, assertTags, assertUrl, hasData, invalidInput, jsonBody } from './ao-http.ts';

export type SpawnProcessParameters = {
  /** MU base URL. */
  mu: string;
  signer: DataItemSigner;
  /** Module id (43 chars). */
  module: string;
  /** The SU's address, as the `Scheduler` tag names it. */
  scheduler: string;
  tags?: readonly Tag[];
  data?: string | Uint8Array;
  /**
   * The MU's address. aos trusts a message only from its owner or an `Authority`; messages the
   * MU pushes between processes are signed by the MU, so without this tag they are ignored.
   */
  authority?: string;
  timeoutMs?: number;
};

export type SpawnProcessReturnType = { processId: string };

/** Tags the caller may not set: the action sets them itself (aoconnect drops the same ones). */
const RESERVED_SPAWN_TAGS = new Set(['Variant', 'Type', 'Module', 'Scheduler']);

/**
 * The tags of a Process item in aoconnect's order: the user's (minus the reserved ones and
 * `Data-Protocol=ao`), `Authority` if asked and not already there, `Content-Type` when there is
 * no data, then `SDK`, `Data-Protocol`, `Variant`, `Type`, `Module`, `Scheduler`, `Timestamp`.
 */
export function spawnTags(parameters: {
  tags?: readonly Tag[];
  module: string;
  scheduler: string;
  authority?: string;
  hasData: boolean;
  now: number;
}): Tag[] {
  const user = assertTags(parameters.tags);
  const variant = tagValue(user, 'Variant') ?? 'ao.TN.1';
  const tags: Tag[] = user.filter((tag) => !RESERVED_SPAWN_TAGS.has(tag.name) && !(tag.name === 'Data-Protocol' && tag.value === 'ao'));
  const authority = parameters.authority;
  if (authority !== undefined && !tags.some((tag) => tag.name === 'Authority' && tag.value.split(',').map((v) => v.trim()).includes(authority))) {
    tags.push({ name: 'Authority', value: authority });
  }
  if (!parameters.hasData) tags.push({ name: 'Content-Type', value: 'text/plain' });
  tags.push(
    { name: 'SDK', value: 'levity' },
    { name: 'Data-Protocol', value: 'ao' },
    { name: 'Variant', value: variant },
    { name: 'Type', value: 'Process' },
    { name: 'Module', value: parameters.module },
    { name: 'Scheduler', value: parameters.scheduler },
    { name: 'Timestamp', value: String(parameters.now) },
  );
  return tags;
}

/** Signs a Process item and hands it to the MU; resolves once the SU has scheduled it. */
export async function spawnProcess(parameters: SpawnProcessParameters): Promise<SpawnProcessReturnType> {
  const mu = assertUrl('mu', parameters.mu);
  assertId('module', parameters.module);
  if (typeof parameters.scheduler !== 'string' || parameters.scheduler === '') throw invalidInput('scheduler must be the SU address');
  if (parameters.authority !== undefined && (typeof parameters.authority !== 'string' || parameters.authority === '')) {
    throw invalidInput('authority must be an address');
  }
  const withData = hasData(parameters.data);
  const tags = spawnTags({ ...parameters, hasData: withData, now: Date.now() });
  // The Timestamp tag alone would let two identical spawns in one millisecond share an id.
  const item = await createDataItem({ signer: parameters.signer, anchor: randomAnchor(), tags, data: withData ? parameters.data : ' ' });
  const response = await aoFetch({
    unit: 'MU',
    url: `${mu}/`,
    method: 'POST',
    body: item.raw,
    contentType: 'application/octet-stream',
    timeoutMs: parameters.timeoutMs,
  });
  const body = await jsonBody<{ processId?: unknown }>('MU', response);
  // As aoconnect: a scheduler that names the process differently wins (HyperBEAM-style SUs do).
  const processId = typeof body?.processId === 'string' && body.processId ? body.processId : item.id;
  return { processId };
}
