import { Kind } from 'graphql';
import type { DocumentNode, FieldNode, OperationDefinitionNode, SelectionSetNode, TypeNode, ValueNode } from 'graphql';

/**
 * A compiled plan for the query shape AO clients and explorers send over and over: one
 * `transactions(...)` field, arguments from literals and variables, plain fields (aliases and
 * __typename included). The document has already passed graphql-js's parser and validator; the
 * plan only reads values and names the fields to write, so the response is built without
 * graphql-js's resolver machinery. Anything else (fragments, directives, other root fields,
 * nulls, a variable of a type it does not check) gets no plan, or gives up at run time, and the
 * general executor answers instead: the results are the same either way (tested).
 */
export type FastQuery = {
  /** The operation's name: a request naming another operation is left to graphql-js. */
  readonly operationName: string | undefined;
  /** The response key of the root field (its alias, or `transactions`). */
  readonly key: string;
  /** The keys of the query's fields: JSON-quoted `__typename` keys, and true for the connection. */
  readonly around: readonly (string | true)[];
  /** The field's arguments for these variables, or undefined to leave the request to graphql-js. */
  args(variables: Record<string, unknown> | undefined): FastArgs | undefined;
  readonly selection: FastSelection;
  /** The select list `renderJson` reads, and how many node columns lead it. */
  readonly select: string;
  readonly nodes: number;
};

export type FastArgs = {
  ids?: string[];
  owners?: string[];
  recipients?: string[];
  tags?: { name: string; values: string[]; op?: 'EQ' | 'NEQ' }[];
  bundledIn?: string[];
  block?: { min?: number; max?: number };
  first: number;
  after?: string;
  sort: 'HEIGHT_ASC' | 'HEIGHT_DESC';
};

/** Output fields in response order: key, schema field name, and the sub-selection if any. */
export type FastSelection = readonly FastField[];
export type FastField = { readonly key: string; readonly name: string; readonly selection?: FastSelection };

/** Which object types the plan walks, and which fields each may name (the schema's). */
const FIELDS: Record<string, Record<string, string | null>> = {
  TransactionConnection: { pageInfo: 'PageInfo', edges: 'TransactionEdge' },
  PageInfo: { hasNextPage: null },
  TransactionEdge: { cursor: null, node: 'Transaction' },
  Transaction: {
    id: null,
    anchor: null,
    signature: null,
    recipient: null,
    owner: 'Owner',
    fee: 'Amount',
    quantity: 'Amount',
    data: 'MetaData',
    tags: 'Tag',
    block: 'Block',
    parent: 'Parent',
    bundledIn: 'Bundle',
  },
  Owner: { address: null, key: null },
  Amount: { winston: null, ar: null },
  MetaData: { size: null, type: null },
  Tag: { name: null, value: null },
  Block: { id: null, timestamp: null, height: null, previous: null },
  Parent: { id: null },
  Bundle: { id: null },
};

const LIST_ARGS = new Set(['ids', 'owners', 'recipients', 'bundledIn']);
const INT_MAX = 2 ** 31 - 1;
const INT_MIN = -(2 ** 31);

/** Signals "let graphql-js answer this one". */
class GiveUp extends Error {}
const giveUp = (): never => {
  throw new GiveUp();
};

/** The plan for a parsed, validated document, or undefined when graphql-js must run it. */
export function compileFastQuery(document: DocumentNode): FastQuery | undefined {
  if (document.definitions.length !== 1) return undefined;
  const operation = document.definitions[0]!;
  if (operation.kind !== Kind.OPERATION_DEFINITION || operation.operation !== 'query') return undefined;
  if (operation.directives?.length) return undefined;
  try {
    const roots = collect(operation.selectionSet);
    const fields = roots.filter((entry) => entry.name !== '__typename');
    if (fields.length !== 1) return undefined;
    const root = fields[0]!;
    if (root.name !== 'transactions' || root.nodes.length !== 1) return undefined;
    // Query-level __typename fields around it, in order: true marks where the connection goes.
    const around = roots.map((entry) => (entry === root ? true : JSON.stringify(entry.key)));
    const field = root.nodes[0]!;
    const selection = compileSelection('TransactionConnection', root.selections);
    const { sql: select, nodes } = selectList(selection);
    const variables = compileVariables(operation);
    const argNodes = field.arguments ?? [];
    return {
      operationName: operation.name?.value,
      key: root.key,
      around,
      selection,
      select,
      nodes,
      args(values) {
        try {
          const vars = variables(values);
          const args: Record<string, unknown> = {};
          for (const arg of argNodes) {
            const value = readValue(arg.value, vars);
            if (value !== ABSENT) args[arg.name.value] = value;
          }
          return normalizeArgs(args);
        } catch (error) {
          if (error instanceof GiveUp) return undefined;
          throw error;
        }
      },
    };
  } catch (error) {
    if (error instanceof GiveUp) return undefined;
    throw error;
  }
}

type Collected = { key: string; name: string; nodes: FieldNode[]; selections: SelectionSetNode[] };

/** Fields by response key in first-seen order, merging repeats the way graphql-js does. */
function collect(...sets: (SelectionSetNode | undefined)[]): Collected[] {
  const byKey = new Map<string, Collected>();
  for (const set of sets) {
    for (const selection of set?.selections ?? []) {
      if (selection.kind !== Kind.FIELD || selection.directives?.length) giveUp();
      const field = selection as FieldNode;
      const key = field.alias?.value ?? field.name.value;
      let entry = byKey.get(key);
      if (!entry) {
        entry = { key, name: field.name.value, nodes: [], selections: [] };
        byKey.set(key, entry);
      }
      entry.nodes.push(field);
      if (field.selectionSet) entry.selections.push(field.selectionSet);
    }
  }
  return [...byKey.values()];
}

function compileSelection(type: string, sets: SelectionSetNode[]): FastSelection {
  const fields = FIELDS[type] ?? giveUp();
  return collect(...sets).map((entry): FastField => {
    if (entry.name === '__typename') return { key: entry.key, name: '__typename:' + type };
    if (!Object.hasOwn(fields, entry.name)) giveUp();
    const child = fields[entry.name];
    if (!child) return { key: entry.key, name: entry.name };
    return { key: entry.key, name: entry.name, selection: compileSelection(child, entry.selections) };
  });
}

const ABSENT = Symbol('absent');
type Vars = Map<string, unknown>;

/** Checks the variables against their declared types the way graphql-js would accept them, or gives up. */
function compileVariables(operation: OperationDefinitionNode): (values: Record<string, unknown> | undefined) => Vars {
  const definitions = (operation.variableDefinitions ?? []).map((definition) => {
    if (definition.directives?.length) giveUp();
    const fallback = definition.defaultValue ? readValue(definition.defaultValue, new Map()) : ABSENT;
    return { name: definition.variable.name.value, type: definition.type, fallback };
  });
  return (values) => {
    const vars: Vars = new Map();
    for (const { name, type, fallback } of definitions) {
      const given = values && Object.hasOwn(values, name) ? values[name] : undefined;
      if (given === undefined) {
        if (fallback === ABSENT && type.kind === Kind.NON_NULL_TYPE) giveUp();
        vars.set(name, fallback);
        continue;
      }
      vars.set(name, checkType(type, given));
    }
    return vars;
  };
}

function checkType(type: TypeNode, value: unknown): unknown {
  if (value === null) return giveUp();
  if (type.kind === Kind.NON_NULL_TYPE) return checkType(type.type, value);
  if (type.kind === Kind.LIST_TYPE) {
    // A single value for a list type is a list of one (GraphQL input coercion).
    return Array.isArray(value) ? value.map((entry) => checkType(type.type, entry)) : [checkType(type.type, value)];
  }
  switch (type.name.value) {
    case 'String':
    case 'ID':
      return typeof value === 'string' ? value : giveUp();
    case 'Int':
      return Number.isInteger(value) && (value as number) <= INT_MAX && (value as number) >= INT_MIN ? value : giveUp();
    case 'SortOrder':
      return value === 'HEIGHT_ASC' || value === 'HEIGHT_DESC' ? value : giveUp();
    default:
      return giveUp(); // input objects, booleans, enums the plan does not check
  }
}

function readValue(node: ValueNode, vars: Vars): unknown {
  switch (node.kind) {
    case Kind.VARIABLE: {
      if (!vars.has(node.name.value)) giveUp();
      return vars.get(node.name.value);
    }
    case Kind.STRING:
    case Kind.ENUM:
      return node.value;
    case Kind.INT:
      return Number(node.value);
    case Kind.LIST:
      return node.values.map((entry) => {
        const value = readValue(entry, vars);
        return value === ABSENT ? giveUp() : value;
      });
    case Kind.OBJECT: {
      const out: Record<string, unknown> = {};
      for (const field of node.fields) {
        const value = readValue(field.value, vars);
        if (value !== ABSENT) out[field.name.value] = value;
      }
      return out;
    }
    default:
      return giveUp(); // null, booleans, floats
  }
}

const isString = (value: unknown): value is string => typeof value === 'string';
const stringList = (value: unknown): string[] => {
  const list = Array.isArray(value) ? value : [value];
  return list.every(isString) ? list : giveUp();
};
const isInt = (value: unknown): value is number => Number.isInteger(value) && (value as number) <= INT_MAX && (value as number) >= INT_MIN;

/** Arguments with the schema's defaults applied, each checked against its schema type. */
function normalizeArgs(raw: Record<string, unknown>): FastArgs {
  const args: FastArgs = { first: 10, sort: 'HEIGHT_DESC' };
  for (const [name, value] of Object.entries(raw)) {
    if (LIST_ARGS.has(name)) {
      args[name as 'ids'] = stringList(value);
    } else if (name === 'first') {
      args.first = isInt(value) ? value : giveUp();
    } else if (name === 'after') {
      args.after = isString(value) ? value : giveUp();
    } else if (name === 'sort') {
      args.sort = value === 'HEIGHT_ASC' || value === 'HEIGHT_DESC' ? value : giveUp();
    } else if (name === 'block') {
      const block = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : giveUp();
      args.block = {};
      for (const [key, bound] of Object.entries(block)) {
        if ((key !== 'min' && key !== 'max') || !isInt(bound)) giveUp();
        args.block[key as 'min'] = bound as number;
      }
    } else if (name === 'tags') {
      const list = Array.isArray(value) ? value : [value];
      args.tags = list.map((entry) => {
        const filter = typeof entry === 'object' && entry !== null && !Array.isArray(entry) ? (entry as Record<string, unknown>) : giveUp();
        if (!isString(filter.name) || filter.values === undefined) giveUp();
        const op = filter.op ?? 'EQ';
        if (op !== 'EQ' && op !== 'NEQ') giveUp();
        if (Object.keys(filter).some((key) => key !== 'name' && key !== 'values' && key !== 'op')) giveUp();
        return { name: filter.name as string, values: stringList(filter.values), op: op as 'EQ' | 'NEQ' };
      });
    } else {
      giveUp();
    }
  }
  return args;
}

/** Longest selection one `json_object` call may carry (SQLite allows 127 arguments). */
const MAX_JSON_FIELDS = 60;

/**
 * The select list for one page: a JSON text column per `node` field of an edge, written by
 * SQLite itself (no row objects, no JSON.stringify on our side), then height and seq for the
 * cursor. Everything in it is fixed by the selection; nothing a client sends is spliced in but
 * GraphQL names (letters, digits, `_`).
 */
export function selectList(selection: FastSelection): { sql: string; nodes: number } {
  const columns: string[] = [];
  for (const field of selection) {
    if (field.name !== 'edges') continue;
    for (const edgeField of field.selection!) if (edgeField.name === 'node') columns.push(nodeSql(edgeField.selection!));
  }
  return { sql: [...columns, 'i.height', 'i.seq'].join(', '), nodes: columns.length };
}

function object(fields: FastSelection, value: (field: FastField) => string): string {
  if (fields.length > MAX_JSON_FIELDS) giveUp();
  return `json_object(${fields.map((field) => `'${field.key}', ${field.name.startsWith('__typename:') ? `'${typename(field.name)}'` : value(field)}`).join(', ')})`;
}

/** The SQL for one Transaction's JSON: the same values the general resolvers give (graphql-schema.ts `node`). */
function nodeSql(fields: FastSelection): string {
  return object(fields, (field) => {
    const sub = field.selection!;
    switch (field.name) {
      case 'id':
        return 'i.id';
      case 'anchor':
        return "CASE WHEN i.anchor IS NULL THEN '' ELSE b64url(i.anchor) END";
      case 'signature':
        return 'b64url(i.signature)';
      case 'recipient':
        return "COALESCE(i.recipient, '')";
      case 'owner':
        return `(SELECT ${object(sub, (f) => (f.name === 'address' ? 'o.address' : 'b64url(o.key)'))} FROM owners o WHERE o.ref = i.owner)`;
      case 'fee':
      case 'quantity':
        return object(sub, (f) => `'${ZERO_AMOUNT[f.name as keyof typeof ZERO_AMOUNT]}'`);
      case 'data':
        return object(sub, (f) => (f.name === 'size' ? 'CAST(i.data_size AS TEXT)' : 'i.data_type'));
      case 'tags': {
        const fromRows = `(SELECT json_group_array(${object(sub, (f) => (f.name === 'name' ? 't.name' : 't.value'))} ORDER BY t.pos) FROM tags t WHERE t.item = i.seq)`;
        // The usual `tags { name value }` is stored ready-made (rows written before it was are read from the tags table).
        const plain = sub.length === 2 && sub[0]!.key === 'name' && sub[0]!.name === 'name' && sub[1]!.key === 'value' && sub[1]!.name === 'value';
        return plain ? `COALESCE(json(i.tags_json), ${fromRows})` : fromRows;
      }
      case 'block':
        return object(sub, (f) => {
          if (f.name === 'id' || f.name === 'previous') return `COALESCE((SELECT b.${f.name} FROM blocks b WHERE b.height = i.height), '')`;
          return f.name === 'timestamp' ? 'i.timestamp' : 'i.height';
        });
      case 'parent':
      case 'bundledIn':
        // A nested item shows the item holding it; an item in a stored bundle, that bundle.
        return `CASE WHEN i.parent IS NOT NULL THEN (SELECT ${object(sub, () => 'p.id')} FROM items p WHERE p.seq = i.parent)
          WHEN i.bundle IS NOT NULL THEN (SELECT ${object(sub, () => 'bu.id')} FROM bundles bu WHERE bu.ref = i.bundle) END`;
      default:
        return giveUp();
    }
  });
}

/** The response JSON for one page of rows from `selectList`, shaped by the selection. */
export function renderJson(fast: FastQuery, page: { rows: readonly unknown[][]; hasNextPage: boolean }, cursor: (height: number, seq: number) => string): string {
  const parts: string[] = [];
  for (const field of fast.selection) {
    const key = JSON.stringify(field.key);
    if (field.selection === undefined) parts.push(`${key}:"TransactionConnection"`);
    else if (field.name === 'pageInfo') {
      parts.push(`${key}:{${field.selection.map((f) => `${JSON.stringify(f.key)}:${f.name === 'hasNextPage' ? page.hasNextPage : '"PageInfo"'}`).join(',')}}`);
    } else {
      const edges = page.rows.map((row) => {
        const height = row[fast.nodes] as number;
        const seq = row[fast.nodes + 1] as number;
        let node = 0;
        const fields = field.selection!.map((f) => {
          const value = f.name === 'cursor' ? JSON.stringify(cursor(height, seq)) : f.name === 'node' ? (row[node++] as string) : '"TransactionEdge"';
          return `${JSON.stringify(f.key)}:${value}`;
        });
        return `{${fields.join(',')}}`;
      });
      parts.push(`${key}:[${edges.join(',')}]`);
    }
  }
  const connection = `${JSON.stringify(fast.key)}:{${parts.join(',')}}`;
  return `{"data":{${fast.around.map((key) => (key === true ? connection : `${key}:"Query"`)).join(',')}}}`;
}

export const ZERO_AMOUNT = { winston: '0', ar: '0.000000000000' } as const;

function typename(name: string): string {
  return name.slice('__typename:'.length);
}
