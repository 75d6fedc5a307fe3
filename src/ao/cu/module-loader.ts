import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError, NotFoundError } from '../../protocol/errors.ts';
import { LUA_MODULE_FORMAT, WASM_MODULE_FORMATS, tagValue } from '../../protocol/ao/index.ts';
import type { Tag } from '../../protocol/ans104/types.ts';
import { gatewayClient } from '../../gateway/client.ts';
import { readJsonFile, writeJsonFile } from '../../shared/json-file.ts';
import type { ModuleCode } from '../vm/process-vm.ts';

export type LoadedModule = { id: string; owner: string; tags: Tag[]; format: string; code: ModuleCode };

/** The disk cache: Lua modules as one JSON file (source inline), wasm modules as JSON plus `<id>.wasm`. */
type CachedModule = { id: string; owner: string; tags: Tag[]; format: string; source?: string; wasmBytes?: number };

const MODULE_QUERY = `query ($ids: [ID!]!) { transactions(ids: $ids) { edges { node { id owner { address } tags { name value } } } } }`;
type ModuleQueryResult = { transactions: { edges: { node: { id: string; owner: { address: string }; tags: Tag[] } }[] } };

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/**
 * Fetches module items from the gateway once and keeps them on disk: a module id names
 * immutable bytes, so the cache never needs invalidating.
 */
export function createModuleLoader(options: { gatewayUrl: string; cacheDir: string }) {
  const gateway = gatewayClient(options.gatewayUrl);
  // Promises, so processes booting at once on the same module share one fetch and one write.
  const memory = new Map<string, Promise<LoadedModule>>();

  async function fromCache(id: string): Promise<LoadedModule | undefined> {
    const cached = (await readJsonFile(join(options.cacheDir, `${id}.json`))) as CachedModule | undefined;
    if (!cached) return undefined;
    const { source, wasmBytes, ...meta } = cached;
    if (typeof source === 'string') return { ...meta, code: { kind: 'lua', source } };
    if (typeof wasmBytes !== 'number') return undefined;
    try {
      const bytes = new Uint8Array(await readFile(join(options.cacheDir, `${id}.wasm`)));
      return bytes.length === wasmBytes ? { ...meta, code: { kind: 'wasm', bytes } } : undefined;
    } catch {
      return undefined;
    }
  }

  async function toCache(module: LoadedModule): Promise<void> {
    const { code, ...meta } = module;
    if (code.kind === 'lua') return writeJsonFile(join(options.cacheDir, `${module.id}.json`), { ...meta, source: code.source });
    // The binary lands before the JSON that points at it, so a crash leaves no dangling record.
    await mkdir(options.cacheDir, { recursive: true });
    const file = join(options.cacheDir, `${module.id}.wasm`);
    await writeFile(`${file}.tmp`, code.bytes);
    await rename(`${file}.tmp`, file);
    await writeJsonFile(join(options.cacheDir, `${module.id}.json`), { ...meta, wasmBytes: code.bytes.length });
  }

  async function fetchModule(id: string): Promise<LoadedModule> {
    const cached = await fromCache(id);
    if (cached) return cached;
    const result = await gateway.graphql<ModuleQueryResult>(MODULE_QUERY, { ids: [id] });
    const node = result.transactions.edges[0]?.node;
    if (!node) throw new NotFoundError('CU_MODULE_NOT_FOUND', `module ${id} is not on the gateway`, { meta: { module: id } });
    if (tagValue(node.tags, 'Type') !== 'Module') {
      throw new InvalidInputError('CU_NOT_A_MODULE', `item ${id} is not a module (Type is not Module)`, { meta: { module: id } });
    }
    const format = tagValue(node.tags, 'Module-Format') ?? '';
    const wasm = WASM_MODULE_FORMATS.includes(format);
    if (format !== LUA_MODULE_FORMAT && !wasm) {
      throw new InvalidInputError('CU_MODULE_FORMAT_UNSUPPORTED', `module ${id} has an unknown Module-Format "${format}"`, {
        meta: { module: id, format, supported: [LUA_MODULE_FORMAT, ...WASM_MODULE_FORMATS] },
      });
    }
    const data = await gateway.data(id);
    let code: ModuleCode;
    if (wasm) {
      if (!WASM_MAGIC.every((byte, i) => data[i] === byte)) {
        throw new InvalidInputError('CU_MODULE_INVALID', `module ${id} says it is ${format} but its data is not a wasm binary`, { meta: { module: id, format } });
      }
      code = { kind: 'wasm', bytes: data };
    } else {
      code = { kind: 'lua', source: new TextDecoder().decode(data) };
    }
    const loaded: LoadedModule = { id, owner: node.owner.address, tags: node.tags, format, code };
    await toCache(loaded);
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

/** An item's data from the gateway; undefined only when the gateway has no such item. */
export function gatewayItemData(gatewayUrl: string): (id: string) => Promise<Uint8Array | undefined> {
  const gateway = gatewayClient(gatewayUrl);
  return async (id) => {
    try {
      return await gateway.data(id);
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  };
}
