import { join } from 'node:path';
import { InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import { LUA_MODULE_FORMAT, WASM_MODULE_FORMATS, tagValue } from '../../protocol/ao/index.ts';
import type { Tag } from '../../protocol/ans104/types.ts';
import { gatewayClient } from '../../gateway/client.ts';
import { readJsonFile, writeJsonFile } from '../../shared/json-file.ts';

export type LoadedModule = { id: string; owner: string; tags: Tag[]; format: string; source: string };

const MODULE_QUERY = `query ($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id owner { address } tags { name value } } } } }`;
type ModuleQueryResult = { transactions: { edges: { node: { id: string; owner: { address: string }; tags: Tag[] } }[] } };

/**
 * Fetches module items from the gateway once and keeps them on disk: a module id names
 * immutable bytes, so the cache never needs invalidating.
 */
export function createModuleLoader(options: { gatewayUrl: string; cacheDir: string }) {
  const gateway = gatewayClient(options.gatewayUrl);
  // Promises, so processes booting at once on the same module share one fetch and one write.
  const memory = new Map<string, Promise<LoadedModule>>();

  async function fetchModule(id: string): Promise<LoadedModule> {
    const file = join(options.cacheDir, `${id}.json`);
    const cached = (await readJsonFile(file)) as LoadedModule | undefined;
    if (cached) return cached;
    const result = await gateway.graphql<ModuleQueryResult>(MODULE_QUERY, { ids: [id] });
    const node = result.transactions.edges[0]?.node;
    if (!node) throw new NotFoundError('CU_MODULE_NOT_FOUND', `module ${id} is not on the gateway`, { meta: { module: id } });
    if (tagValue(node.tags, 'Type') !== 'Module') {
      throw new InvalidInputError('CU_NOT_A_MODULE', `item ${id} is not a module (Type is not Module)`, { meta: { module: id } });
    }
    const format = tagValue(node.tags, 'Module-Format') ?? '';
    if (format !== LUA_MODULE_FORMAT) {
      const known = WASM_MODULE_FORMATS.includes(format);
      throw new InvalidInputError(
        'CU_MODULE_FORMAT_UNSUPPORTED',
        known
          ? `module ${id} is an AO WASM module (${format}); this CU evaluates ${LUA_MODULE_FORMAT} modules only`
          : `module ${id} has an unknown Module-Format "${format}"`,
        { meta: { module: id, format } },
      );
    }
    const source = new TextDecoder().decode(await gateway.data(id));
    const loaded: LoadedModule = { id, owner: node.owner.address, tags: node.tags, format, source };
    await writeJsonFile(file, loaded);
    return loaded;
  }

  return {
    load(id: string): Promise<LoadedModule> {
      let loaded = memory.get(id);
      if (!loaded) {
        loaded = fetchModule(id);
        memory.set(id, loaded);
        // A failed fetch (gateway down, not a module) is not remembered.
        loaded.catch(() => memory.delete(id));
      }
      return loaded;
    },
  };
}

export type ModuleLoader = ReturnType<typeof createModuleLoader>;
