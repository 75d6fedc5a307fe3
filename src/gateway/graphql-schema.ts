import { buildSchema, execute, GraphQLError, parse, validate } from 'graphql';
import type { DocumentNode } from 'graphql';
import { toB64Url } from '../protocol/ans104/index.ts';
import { InvalidInputError, LevityError } from '../protocol/errors.ts';
import type { Logger } from '../shared/log.ts';
import { blockQueryOf, chainBlockPage, encodeBlockCursor } from './chain-blocks.ts';
import type { BlocksArgs, ChainBlockSource } from './chain-blocks.ts';
import type { GatewayStore, ItemRow } from './gateway-store.ts';
import { compileFastQuery, renderJson, ZERO_AMOUNT } from './graphql-fast.ts';
import type { FastArgs, FastQuery } from './graphql-fast.ts';
import { decodeCursor, encodeCursor } from './item-query.ts';
import type { ItemQuery, SortOrder, TagFilter } from './item-query.ts';

/** The Arweave GraphQL schema as gateways serve it (arweave.net, arlocal), minus paid-tx fields we cannot have. */
export const GATEWAY_SCHEMA_SDL = /* GraphQL */ `
  type Query {
    transaction(id: ID!): Transaction
    transactions(
      ids: [ID!]
      owners: [String!]
      recipients: [String!]
      tags: [TagFilter!]
      bundledIn: [ID!]
      block: BlockFilter
      first: Int = 10
      after: String
      sort: SortOrder = HEIGHT_DESC
    ): TransactionConnection!
    block(id: String): Block
    blocks(ids: [ID!], height: BlockFilter, first: Int = 10, after: String, sort: SortOrder = HEIGHT_DESC): BlockConnection!
  }
  enum SortOrder { HEIGHT_ASC HEIGHT_DESC }
  enum TagOperator { EQ NEQ }
  input TagFilter { name: String! values: [String!]! op: TagOperator = EQ }
  input BlockFilter { min: Int max: Int }
  type PageInfo { hasNextPage: Boolean! }
  type TransactionConnection { pageInfo: PageInfo! edges: [TransactionEdge!]! }
  type TransactionEdge { cursor: String! node: Transaction! }
  type BlockConnection { pageInfo: PageInfo! edges: [BlockEdge!]! }
  type BlockEdge { cursor: String! node: Block! }
  type Transaction {
    id: ID!
    anchor: String!
    signature: String!
    recipient: String!
    owner: Owner!
    fee: Amount!
    quantity: Amount!
    data: MetaData!
    tags: [Tag!]!
    block: Block
    parent: Parent @deprecated(reason: "Use bundledIn")
    bundledIn: Bundle
  }
  type Owner { address: String! key: String! }
  type Amount { winston: String! ar: String! }
  type MetaData { size: String! type: String }
  type Tag { name: String! value: String! }
  type Block { id: ID! timestamp: Int! height: Int! previous: ID! }
  type Parent { id: ID! }
  type Bundle { id: ID! }
`;

export const MAX_PAGE = 100;
/** Ids, owners, tag values... in one filter: each becomes an SQL parameter (SQLite takes 32766). */
const MAX_FILTER_VALUES = 2000;
/** Longer query texts are refused before parsing; real clients send a few hundred bytes. */
const MAX_QUERY_CHARS = 64 * 1024;
const DOCUMENT_CACHE_SIZE = 256;

export type GraphqlErrorJson = { message: string; locations?: unknown; path?: unknown; extensions?: Record<string, unknown> };
/** A GraphQL response. No `data` key means the request itself was bad (parse, validation, variables). */
export type GraphqlResponse = { data?: unknown; errors?: GraphqlErrorJson[] };

type TransactionsArgs = {
  ids?: string[];
  owners?: string[];
  recipients?: string[];
  tags?: { name: string; values: string[]; op?: 'EQ' | 'NEQ' }[];
  bundledIn?: string[];
  block?: { min?: number | null; max?: number | null } | null;
  first: number;
  after?: string | null;
  sort: SortOrder;
};

const ZERO = ZERO_AMOUNT;

export type GraphqlOptions = {
  /** Answer the common `transactions(...)` shapes from a compiled plan (default true; tests turn it off to compare). */
  fastPath?: boolean;
  /**
   * Where `blocks` and `block` read: the chain, every block of it. Without one they list only
   * the blocks items were stamped with (a gateway with no chain of its own, tests).
   */
  chainBlocks?: ChainBlockSource;
};

type Prepared = { document: DocumentNode; fast: FastQuery | undefined };

/**
 * GraphQL over the gateway store. Parsed and validated documents are cached by query text:
 * clients send the same few queries over and over, and parsing costs more than answering.
 * The usual `transactions(...)` queries then skip graphql-js's executor (see graphql-fast.ts).
 */
export function createGraphql(store: GatewayStore, log: Logger, options: GraphqlOptions = {}) {
  const schema = buildSchema(GATEWAY_SCHEMA_SDL);
  const documents = new Map<string, Prepared | readonly GraphQLError[]>();
  const fastPath = options.fastPath ?? true;
  const chain = options.chainBlocks;

  const pageSize = (first: number) => Math.max(0, Math.min(MAX_PAGE, first));

  const node = (row: ItemRow) => ({
    id: row.id,
    anchor: row.anchor ? toB64Url(row.anchor) : '',
    signature: () => toB64Url(row.signature),
    recipient: row.recipient ?? '',
    owner: () => {
      const owner = store.owner(row.ownerRef);
      return { address: owner.address, key: () => toB64Url(owner.key) };
    },
    fee: ZERO,
    quantity: ZERO,
    data: { size: String(row.dataSize), type: row.dataType },
    tags: () => store.tagsOf(row.seq),
    block: () => {
      const block = store.block(row.height);
      return { id: block?.id ?? '', timestamp: row.timestamp, height: row.height, previous: block?.previous ?? '' };
    },
    parent: () => bundleOf(row),
    bundledIn: () => bundleOf(row),
  });
  /** The parent item for a nested item (Arweave shows the bundle's own id), else the stored bundle. */
  const bundleOf = (row: ItemRow) => {
    if (row.parentRef !== null) {
      const parent = store.itemBySeq(row.parentRef);
      return parent ? { id: parent.id } : null;
    }
    if (row.bundleRef === null) return null;
    const bundle = store.bundle(row.bundleRef);
    return bundle ? { id: bundle.id } : null;
  };

  /** The store query for `transactions(...)` arguments, the filter checked. Shared by both executors. */
  const itemQuery = (args: TransactionsArgs | FastArgs): ItemQuery => {
    const values =
      (args.ids?.length ?? 0) +
      (args.owners?.length ?? 0) +
      (args.recipients?.length ?? 0) +
      (args.bundledIn?.length ?? 0) +
      (args.tags ?? []).reduce((sum, tag) => sum + 1 + tag.values.length, 0);
    if (values > MAX_FILTER_VALUES) {
      throw new InvalidInputError('GATEWAY_FILTER_TOO_LARGE', `a filter may name at most ${MAX_FILTER_VALUES} values; this one names ${values}`);
    }
    return {
      ids: args.ids ?? undefined,
      owners: args.owners ?? undefined,
      recipients: args.recipients ?? undefined,
      tags: (args.tags ?? undefined) as TagFilter[] | undefined,
      bundledIn: args.bundledIn ?? undefined,
      minHeight: args.block?.min ?? undefined,
      maxHeight: args.block?.max ?? undefined,
      first: pageSize(args.first),
      after: args.after ? decodeCursor(args.after) : undefined,
      sort: args.sort,
    };
  };
  const cursorOf = (height: number, seq: number) => encodeCursor({ height, seq });
  /** The compiled plan's response JSON, or undefined to leave the request to graphql-js (which then reports any error). */
  const runFast = (prepared: Prepared, variables: unknown, operationName: unknown): string | undefined => {
    const fast = prepared.fast;
    if (!fast || (operationName != null && operationName !== fast.operationName)) return undefined;
    try {
      const args = fast.args((variables ?? undefined) as Record<string, unknown> | undefined);
      if (!args) return undefined;
      return renderJson(fast, store.queryItemsAs(itemQuery(args), fast.select), cursorOf);
    } catch {
      return undefined;
    }
  };

  const root = {
    transaction: ({ id }: { id: string }) => {
      const row = store.itemById(id);
      return row ? node(row) : null;
    },
    transactions: (args: TransactionsArgs) => {
      const { rows, hasNextPage } = store.queryItems(itemQuery(args));
      return { pageInfo: { hasNextPage }, edges: rows.map((row) => ({ cursor: encodeCursor(row), node: node(row) })) };
    },
    block: async ({ id }: { id?: string | null }) => {
      if (chain) return (id ? await chain.byId(id) : await chain.byHeight(await chain.head())) ?? null;
      const found = id ? store.queryBlocks({ ids: [id], first: 1, sort: 'HEIGHT_DESC' }).rows[0] : store.latestBlock();
      return found ?? null;
    },
    blocks: async (args: BlocksArgs) => {
      const query = blockQueryOf(args);
      const { rows, hasNextPage } = chain ? await chainBlockPage(chain, query) : store.queryBlocks(query);
      return { pageInfo: { hasNextPage }, edges: rows.map((row) => ({ cursor: encodeBlockCursor(row.height), node: row })) };
    },
  };

  const documentFor = (query: string): Prepared | readonly GraphQLError[] => {
    const cached = documents.get(query);
    if (cached) return cached;
    let result: Prepared | readonly GraphQLError[];
    try {
      const document = parse(query);
      const errors = validate(schema, document);
      result = errors.length > 0 ? errors : { document, fast: fastPath ? compileFastQuery(document) : undefined };
    } catch (error) {
      result = [error instanceof GraphQLError ? error : new GraphQLError(String(error))];
    }
    if (documents.size >= DOCUMENT_CACHE_SIZE) documents.clear();
    documents.set(query, result);
    return result;
  };

  const format = (error: GraphQLError): GraphqlErrorJson => {
    const original = error.originalError;
    const json: GraphqlErrorJson = { message: error.message };
    if (error.locations) json.locations = error.locations;
    if (error.path) json.path = error.path;
    if (original instanceof LevityError) {
      json.message = original.shortMessage;
      json.extensions = { code: original.code };
    } else if (original && !(original instanceof GraphQLError)) {
      log.error({ err: original }, 'graphql resolver failed');
      json.message = 'internal error';
      json.extensions = { code: 'INTERNAL' };
    }
    return json;
  };

  const counts = { fast: 0, general: 0 };
  /** A response: JSON text from the fast path, else graphql-js's result. */
  const answer = async (query: unknown, variables?: unknown, operationName?: unknown): Promise<GraphqlResponse | string> => {
    if (typeof query !== 'string' || query.length === 0) return requestError('a GraphQL request needs a non-empty string `query`');
    if (query.length > MAX_QUERY_CHARS) return requestError(`the query is longer than ${MAX_QUERY_CHARS} characters`);
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
      return requestError('`variables` must be a JSON object');
    }
    if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
      return requestError('`operationName` must be a string');
    }
    const prepared = documentFor(query);
    if (!('document' in prepared)) return { errors: prepared.map(format) };
    const fast = runFast(prepared, variables, operationName);
    if (fast !== undefined) {
      counts.fast++;
      return fast;
    }
    counts.general++;
    const result = await execute({
      schema,
      document: prepared.document,
      rootValue: root,
      variableValues: (variables ?? undefined) as Record<string, unknown> | undefined,
      operationName: operationName ?? undefined,
    });
    const response: GraphqlResponse = {};
    if (result.errors) response.errors = result.errors.map(format);
    if ('data' in result) response.data = result.data;
    return response;
  };

  return {
    schema,
    /** How many requests each executor answered (tests check the fast path is taken). */
    stats: () => ({ ...counts }),
    async run(query: unknown, variables?: unknown, operationName?: unknown): Promise<GraphqlResponse> {
      const response = await answer(query, variables, operationName);
      return typeof response === 'string' ? (JSON.parse(response) as GraphqlResponse) : response;
    },
    /** The response as JSON text (what HTTP sends), and whether it carries data (else it is a 400). */
    async runJson(query: unknown, variables?: unknown, operationName?: unknown): Promise<{ json: string; hasData: boolean }> {
      const response = await answer(query, variables, operationName);
      if (typeof response === 'string') return { json: response, hasData: true };
      return { json: JSON.stringify(response), hasData: 'data' in response };
    },
  };
}

function requestError(message: string): GraphqlResponse {
  return { errors: [{ message, extensions: { code: 'GATEWAY_BAD_GRAPHQL_REQUEST' } }] };
}

export type GatewayGraphql = ReturnType<typeof createGraphql>;
