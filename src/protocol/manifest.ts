import { z } from 'zod';

/**
 * The devnet manifest: where every endpoint of a running Levity devnet lives. Tools and tests
 * depend on this shape (ARCHITECTURE.md); sections appear as their subsystems land.
 */

const hex = z.string().regex(/^0x[0-9a-fA-F]*$/, 'expected 0x-prefixed hex');
const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'expected a 20-byte 0x address');
const url = z.string().url();

export const manifestSchema = z.object({
  version: z.literal(1),
  dataDir: z.string(),
  chain: z.object({
    rpc: url,
    chainId: z.number().int().positive(),
    accounts: z.array(z.object({ address, privateKey: hex })),
    contracts: z.record(z.string(), address),
  }),
  storage: z.object({ indexer: url, nodes: z.array(url) }).optional(),
  ao: z
    .object({
      mu: url,
      su: url,
      cu: url,
      gateway: url,
      graphql: url,
      modules: z.record(z.string(), z.string()),
      scheduler: z.string(),
      authority: z.string(),
    })
    .optional(),
  da: z.object({ aggregator: url, nodes: z.array(url) }).optional(),
  serving: z
    .object({ providers: z.array(z.object({ address, url, model: z.string() })) })
    .optional(),
  explorer: url.optional(),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestAccount = Manifest['chain']['accounts'][number];

export const MANIFEST_FILE = 'manifest.json';
