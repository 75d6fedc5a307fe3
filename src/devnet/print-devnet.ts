import { formatEther } from 'viem';
import type { Manifest } from '../protocol/manifest.ts';
import { manifestEndpoints } from '../sdk/probe-endpoints.ts';

/**
 * What `levity up` prints once ready: a role → URL table, then the dev accounts the way
 * Hardhat and Anvil print theirs, so keys can be copied into wallets and scripts.
 */
export type FormatDevnetOptions = { balanceWei?: bigint; wsUrl?: string };

export function formatDevnet(manifest: Manifest, manifestPath: string, options: FormatDevnetOptions = {}): string {
  const { balanceWei, wsUrl } = options;
  const rows = manifestEndpoints(manifest).map(({ role, url }) => [role, url] as const);
  if (wsUrl) rows.splice(1, 0, ['chain (ws)', wsUrl]);
  const width = Math.max(...rows.map(([role]) => role.length), 4);
  const facts: [string, string][] = [
    ['chainId', String(manifest.chain.chainId)],
    ...Object.entries(manifest.chain.contracts),
    ...aoFacts(manifest),
    ...(manifest.serving?.providers ?? []).map((p): [string, string] => [`provider (${p.model})`, p.address]),
    ['manifest', manifestPath],
  ];
  const factWidth = Math.max(...facts.map(([name]) => name.length));
  const lines = [
    'Levity devnet is up',
    '',
    `  ${'role'.padEnd(width)}  url`,
    `  ${'-'.repeat(width)}  ${'-'.repeat(24)}`,
    ...rows.map(([role, url]) => `  ${role.padEnd(width)}  ${url}`),
    '',
    ...facts.map(([name, value]) => `  ${name.padEnd(factWidth)}  ${value}`),
    '',
    'Accounts',
    '========',
    '',
  ];
  const balance = balanceWei === undefined ? '' : ` (${formatEther(balanceWei)} ETH)`;
  manifest.chain.accounts.forEach((account, index) => {
    lines.push(`Account #${index}: ${account.address}${balance}`, `Private Key: ${account.privateKey}`, '');
  });
  lines.push('WARNING: these keys are public. Never send real funds to them.', '', 'Press Ctrl-C to stop.');
  return lines.join('\n');
}

/** The ids a user needs to spawn: the built-in module, the scheduler and the MU authority. */
function aoFacts(manifest: Manifest): [string, string][] {
  if (!manifest.ao) return [];
  return [
    ...Object.entries(manifest.ao.modules).map(([name, id]): [string, string] => [`module (${name})`, id]),
    ['scheduler', manifest.ao.scheduler],
    ['authority', manifest.ao.authority],
  ];
}
