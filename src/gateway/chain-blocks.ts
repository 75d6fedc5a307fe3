/**
 * Arweave's GraphQL `blocks` answered from the chain itself (spec ao.md §3.4): the block hash as
 * `id`, the timestamp in seconds as Arweave gives it, the parent hash as `previous`. Every chain
 * block is there, not only the ones items were stamped with, so a CU can read the height and
 * time of each block its block crons fire on.
 */
import type { PublicClient } from 'viem';
import { InvalidInputError, UpstreamError, errorMessage } from '../protocol/errors.ts';
import type { BlockQuery, BlockRow } from './gateway-store.ts';

/** What the gateway reads of its chain; the composition root picks the adapter (`evmChainBlocks`). */
export type ChainBlockSource = {
  /** The latest block's height. */
  head(): Promise<number>;
  /** The block at a height, or undefined past the head. */
  byHeight(height: number): Promise<BlockRow | undefined>;
  /** The block with this id (hash), or undefined when the chain has none. */
  byId(id: string): Promise<BlockRow | undefined>;
};

/** The `blocks(...)` arguments as GraphQL hands them over (schema defaults applied). */
export type BlocksArgs = {
  ids?: readonly string[] | null;
  height?: { min?: number | null; max?: number | null } | null;
  first?: number | null;
  after?: string | null;
  sort?: 'HEIGHT_ASC' | 'HEIGHT_DESC' | null;
};

/** Blocks per page, as Arweave gateways cap `first`; also the most `ids` one request may name. */
export const MAX_BLOCKS_PAGE = 100;
const DEFAULT_FIRST = 10;

function badArgument(code: string, message: string, meta: Record<string, unknown>): InvalidInputError {
  return new InvalidInputError(code, message, { meta });
}

/** Checks `blocks(...)` arguments: `first` is clamped to 100; negative numbers, min > max, too many ids or a foreign cursor are refused. */
export function blockQueryOf(args: BlocksArgs): BlockQuery {
  const first = args.first ?? DEFAULT_FIRST;
  if (!Number.isSafeInteger(first) || first < 0) throw badArgument('GATEWAY_BAD_ARGUMENT', '`first` must be a whole number ≥ 0', { first });
  const min = args.height?.min ?? undefined;
  const max = args.height?.max ?? undefined;
  for (const [name, value] of [['min', min], ['max', max]] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw badArgument('GATEWAY_BAD_ARGUMENT', `height.${name} must be a whole number ≥ 0`, { [name]: value });
    }
  }
  if (min !== undefined && max !== undefined && min > max) {
    throw badArgument('GATEWAY_BAD_BLOCK_RANGE', `height.min (${min}) is above height.max (${max})`, { min, max });
  }
  const ids = args.ids && args.ids.length > 0 ? [...new Set(args.ids)] : undefined;
  if (ids && ids.length > MAX_BLOCKS_PAGE) {
    throw badArgument('GATEWAY_FILTER_TOO_LARGE', `blocks(ids) may name at most ${MAX_BLOCKS_PAGE} blocks; this names ${ids.length}`, { ids: ids.length });
  }
  return {
    ids,
    min,
    max,
    first: Math.min(first, MAX_BLOCKS_PAGE),
    after: args.after ? decodeBlockCursor(args.after) : undefined,
    sort: args.sort ?? 'HEIGHT_DESC',
  };
}

/** One page of blocks from the chain: the heights in range after the cursor, `first` of them, in `sort` order. */
export async function chainBlockPage(source: ChainBlockSource, query: BlockQuery): Promise<{ rows: BlockRow[]; hasNextPage: boolean }> {
  const asc = query.sort === 'HEIGHT_ASC';
  const head = await source.head();
  let lo = query.min ?? 0;
  let hi = Math.min(query.max ?? head, head);
  if (query.after !== undefined) {
    if (asc) lo = Math.max(lo, query.after + 1);
    else hi = Math.min(hi, query.after - 1);
  }
  if (query.ids) {
    const found = (await Promise.all(query.ids.map((id) => source.byId(id)))).filter(
      (block): block is BlockRow => block !== undefined && block.height >= lo && block.height <= hi,
    );
    found.sort((a, b) => (asc ? a.height - b.height : b.height - a.height));
    return { rows: found.slice(0, query.first), hasNextPage: found.length > query.first };
  }
  if (hi < lo) return { rows: [], hasNextPage: false };
  const count = Math.min(query.first, hi - lo + 1);
  const heights = Array.from({ length: count }, (_, i) => (asc ? lo + i : hi - i));
  const rows = (await Promise.all(heights.map((height) => source.byHeight(height)))).filter((block): block is BlockRow => block !== undefined);
  return { rows, hasNextPage: hi - lo + 1 > count };
}

export function encodeBlockCursor(height: number): string {
  return Buffer.from(`b:${height}`).toString('base64url');
}

export function decodeBlockCursor(text: string): number {
  const match = /^b:(\d{1,15})$/.exec(Buffer.from(text, 'base64url').toString('latin1'));
  if (!match) throw new InvalidInputError('GATEWAY_BAD_CURSOR', `cursor ${JSON.stringify(text.slice(0, 80))} is not a block cursor`);
  return Number(match[1]);
}

const HASH = /^0x[0-9a-fA-F]{64}$/;
const DEFAULT_CACHE_BLOCKS = 4096;

type EvmBlock = { number: bigint | null; hash: `0x${string}` | null; parentHash: `0x${string}`; timestamp: bigint };

/**
 * Blocks of an EVM chain through viem. Blocks are cached by height once read: the devnet's chain
 * never reorganises. An id that is not a 32-byte hex hash names no block (Arweave ids never will).
 */
export function evmChainBlocks(client: Pick<PublicClient, 'getBlock' | 'getBlockNumber'>, options: { cacheBlocks?: number } = {}): ChainBlockSource {
  const limit = options.cacheBlocks ?? DEFAULT_CACHE_BLOCKS;
  const byHeight = new Map<number, BlockRow>();
  const heightOf = new Map<string, number>();

  const remember = (block: EvmBlock): BlockRow | undefined => {
    if (block.number === null || block.hash === null) return undefined; // pending
    const row: BlockRow = { height: Number(block.number), id: block.hash, timestamp: Number(block.timestamp), previous: block.parentHash };
    if (byHeight.size >= limit) {
      byHeight.clear();
      heightOf.clear();
    }
    byHeight.set(row.height, row);
    heightOf.set(row.id.toLowerCase(), row.height);
    return row;
  };
  const read = async (what: string, fetchBlock: () => Promise<EvmBlock>): Promise<BlockRow | undefined> => {
    try {
      return remember(await fetchBlock());
    } catch (error) {
      if (error instanceof Error && error.name === 'BlockNotFoundError') return undefined;
      throw new UpstreamError('GATEWAY_CHAIN_UNAVAILABLE', `cannot read ${what} from the chain`, { details: errorMessage(error), cause: error });
    }
  };

  return {
    async head() {
      try {
        return Number(await client.getBlockNumber({ cacheTime: 0 }));
      } catch (error) {
        throw new UpstreamError('GATEWAY_CHAIN_UNAVAILABLE', 'cannot read the chain head', { details: errorMessage(error), cause: error });
      }
    },
    async byHeight(height) {
      return byHeight.get(height) ?? read(`block ${height}`, () => client.getBlock({ blockNumber: BigInt(height) }));
    },
    async byId(id) {
      if (!HASH.test(id)) return undefined;
      const height = heightOf.get(id.toLowerCase());
      const cached = height === undefined ? undefined : byHeight.get(height);
      return cached ?? read(`block ${id}`, () => client.getBlock({ blockHash: id as `0x${string}` }));
    },
  };
}
