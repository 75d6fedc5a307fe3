/** Every role a Levity node can run, with its port offset from the port base (ARCHITECTURE.md). */
export const ROLE_PORT_OFFSETS = {
  chain: 0,
  explorer: 1,
  gateway: 2,
  mu: 3,
  su: 4,
  cu: 5,
  indexer: 6,
  'storage-node': 10,
  'da-aggregator': 20,
  'da-node': 30,
  provider: 40,
} as const;

export type RoleName = keyof typeof ROLE_PORT_OFFSETS;

export const ROLE_NAMES = Object.keys(ROLE_PORT_OFFSETS) as RoleName[];

export function isRoleName(value: string): value is RoleName {
  return Object.hasOwn(ROLE_PORT_OFFSETS, value);
}
