import { createDataItem } from '../../protocol/ans104/index.ts';
import type { DataItemSigner } from '../../protocol/ans104/index.ts';
import { LUA_MODULE_FORMAT, moduleTags, parseComputeLimit, parseMemoryLimit } from '../../protocol/ao/index.ts';
import type { Tag } from '../../protocol/ao/index.ts';
import { UpstreamError } from '../../protocol/errors.ts';
import { AoClientErrorCode, aoFetch, assertTags, assertUrl, invalidInput, jsonBody } from './ao-http.ts';

export type PublishModuleParameters = {
  /** Gateway base URL. */
  gateway: string;
  signer: DataItemSigner;
  /** The module: Lua source for Levity's Lua format, wasm bytes for the AO wasm formats. */
  source: string | Uint8Array;
  /** `Module-Format`; defaults to Levity's Lua format. */
  format?: string;
  /** e.g. `1-gb`. */
  memoryLimit?: string;
  /** e.g. `9000000000000`. */
  computeLimit?: string;
  name?: string;
  tags?: readonly Tag[];
  timeoutMs?: number;
};

export type PublishModuleReturnType = { moduleId: string };

/**
 * Signs a module item (the tags aoconnect's spawn check looks for) and posts it to the gateway,
 * which indexes it: once this resolves, processes can be spawned from `moduleId`.
 */
export async function publishModule(parameters: PublishModuleParameters): Promise<PublishModuleReturnType> {
  const gateway = assertUrl('gateway', parameters.gateway);
  if (parameters.source === undefined || parameters.source.length === 0) throw invalidInput('the module source is empty');
  const format = parameters.format ?? LUA_MODULE_FORMAT;
  if (typeof format !== 'string' || format === '') throw invalidInput('format must be a Module-Format name');
  // Parse the limits now, so a typo fails here and not at every spawn from the module.
  if (parameters.memoryLimit !== undefined) parseMemoryLimit(parameters.memoryLimit);
  if (parameters.computeLimit !== undefined) parseComputeLimit(parameters.computeLimit);
  const item = await createDataItem({
    signer: parameters.signer,
    tags: moduleTags({
      format,
      memoryLimit: parameters.memoryLimit,
      computeLimit: parameters.computeLimit,
      name: parameters.name,
      extra: assertTags(parameters.tags),
    }),
    data: parameters.source,
  });
  const response = await aoFetch({
    unit: 'gateway',
    url: `${gateway}/tx`,
    method: 'POST',
    body: item.raw,
    contentType: 'application/octet-stream',
    timeoutMs: parameters.timeoutMs,
  });
  const body = await jsonBody<{ id?: unknown }>('gateway', response);
  if (body?.id !== undefined && body.id !== item.id) {
    throw new UpstreamError(AoClientErrorCode.badReply, 'the gateway stored the module under another id', {
      meta: { expected: item.id, got: body.id },
    });
  }
  return { moduleId: item.id };
}
