import { createDataItem } from '../protocol/ans104/index.ts';
import { LUA_MODULE_FORMAT, moduleTags } from '../protocol/ao/index.ts';
import { gatewayClient } from '../gateway/client.ts';
import { luaRuntimeSource } from './vm/lua-runtime-source.ts';
import { loadOrCreateWallet } from './wallet.ts';

/** The limits the built-in module asks for; a process's own tags may lower or raise them. */
const BUILTIN_MEMORY_LIMIT = '256-mb';
const BUILTIN_COMPUTE_LIMIT = '100000000';

/**
 * Publishes Levity's aos-compatible Lua runtime as a module item and returns its id. ed25519
 * signatures are deterministic, so the same wallet and source give the same id on every start;
 * the gateway treats the repeat as a duplicate.
 */
export async function publishBuiltinModule(options: { gatewayUrl: string; walletFile: string }): Promise<string> {
  const wallet = await loadOrCreateWallet(options.walletFile);
  const item = await createDataItem({
    signer: wallet.signer,
    tags: moduleTags({
      format: LUA_MODULE_FORMAT,
      memoryLimit: BUILTIN_MEMORY_LIMIT,
      computeLimit: BUILTIN_COMPUTE_LIMIT,
      name: 'levity-aos',
    }),
    data: luaRuntimeSource(),
  });
  await gatewayClient(options.gatewayUrl).postItem(item.raw);
  return item.id;
}
