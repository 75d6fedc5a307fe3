import type { Tag } from '../../protocol/ao/index.ts';
import { aoFetch, assertId, assertTags, assertUrl, jsonBody } from './ao-http.ts';
import { toAoResult } from './read-result.ts';
import type { AoResult } from './read-result.ts';

export type DryRunParameters = {
  /** CU base URL. */
  cu: string;
  process: string;
  tags?: readonly Tag[];
  data?: string;
  /** Who the message claims to be from; owner-only handlers need the process owner's address. */
  owner?: string;
  id?: string;
  anchor?: string;
  timeoutMs?: number;
};

export type DryRunReturnType = AoResult;

/**
 * Evaluates an unsigned message against the process's latest state without keeping any effect:
 * the way to read state (balances, info) cheaply. Body and tags as aoconnect sends them.
 */
export async function dryRun(parameters: DryRunParameters): Promise<DryRunReturnType> {
  const cu = assertUrl('cu', parameters.cu);
  assertId('process', parameters.process);
  const user = assertTags(parameters.tags).filter((tag) => !['Data-Protocol', 'Type', 'Variant'].includes(tag.name));
  const body = {
    // aoconnect's placeholders: a dry run is never signed, so these only need to be strings.
    Id: parameters.id ?? '1234',
    Target: parameters.process,
    Owner: parameters.owner ?? '1234',
    Anchor: parameters.anchor ?? '0',
    // aoconnect sends "1234" when there is no data; an empty string is what a handler expects to see.
    Data: parameters.data ?? '',
    Tags: [
      ...user,
      { name: 'Data-Protocol', value: 'ao' },
      { name: 'Type', value: 'Message' },
      { name: 'Variant', value: 'ao.TN.1' },
    ],
  };
  const response = await aoFetch({
    unit: 'CU',
    url: `${cu}/dry-run?process-id=${parameters.process}`,
    method: 'POST',
    body: JSON.stringify(body),
    contentType: 'application/json',
    timeoutMs: parameters.timeoutMs ?? 60_000,
  });
  return toAoResult(await jsonBody('CU', response), response.url);
}
