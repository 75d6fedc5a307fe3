import type { Command } from 'commander';
import { formatEther, getAddress, isAddress, parseEther } from 'viem';
import type { Address, Hex } from 'viem';
import { ConflictError, InvalidInputError } from '../protocol/errors.ts';
import { DEFAULT_DEVNET_DIR, readManifest } from '../sdk/index.ts';
import type { Manifest } from '../sdk/index.ts';
import { chat, servingClient, ServingLedgerErrorCode } from '../sdk/serving/index.ts';
import type { ServingClient } from '../sdk/serving/index.ts';
import { printJson, positiveInt, lines } from './common.ts';

type Flags = { devnet: string; rpc?: string; key?: string; ledger?: string; registry?: string; json?: boolean };
type ProviderFlags = Flags & { provider?: string };
type ChatFlags = ProviderFlags & { maxTokens?: number; model?: string };

/** How many more worst-case requests an automatic top-up pays for, so a chat session does not fund every turn. */
const TOP_UP_REQUESTS = 10n;

/** `levity ledger …`, `levity serving list` and `levity chat`: the user side of paid AI serving. */
export function registerServing(program: Command): void {
  const ledger = program.command('ledger').description('deposit into the serving ledger, fund providers, take refunds');

  flags(ledger.command('deposit <amount>'))
    .description('move AMOUNT ether from the wallet into the ledger')
    .action(async (amount: string, f: Flags) => {
      const { levity } = await connect(f);
      const tx = await levity.deposit(ether(amount));
      await printAccount(levity, f, { deposited: ether(amount), tx: tx.hash });
    });

  flags(ledger.command('withdraw <amount>'))
    .description('move AMOUNT ether of available ledger funds back to the wallet')
    .action(async (amount: string, f: Flags) => {
      const { levity } = await connect(f);
      const tx = await levity.withdraw(ether(amount));
      await printAccount(levity, f, { withdrawn: ether(amount), tx: tx.hash });
    });

  flags(ledger.command('refund'))
    .description("take a provider's sub-account back: claims a refund whose lock has passed, else requests one for the whole balance")
    .option('--provider <address>', 'provider (default: the devnet manifest\'s first)')
    .action(async (f: ProviderFlags) => {
      const { levity, manifest } = await connect(f);
      const provider = providerOf(f, manifest);
      const sub = await levity.subAccount(provider);
      // An idle devnet mines no blocks, so the last block's time lags the clock the next one gets.
      const now = bigMax((await levity.client.getBlock()).timestamp, BigInt(Math.floor(Date.now() / 1000)));
      if (sub.pendingRefund > 0n) {
        // Let the chain judge the lock: its next block's time is what counts, not ours.
        const claimed = await levity.claimRefund(provider).catch((error: unknown) => {
          if (error instanceof ConflictError && error.code === ServingLedgerErrorCode.refundLocked) return undefined;
          throw error;
        });
        if (claimed) {
          const { available } = await levity.ledgerAccount();
          if (f.json) return printJson({ action: 'claimed', provider, amount: claimed.amount, available, tx: claimed.hash });
          return lines([
            ['claimed', `${eth(claimed.amount)} back from ${provider}`],
            ['available', eth(available)],
            ['tx', claimed.hash],
          ]);
        }
      }
      if (sub.balance === 0n) {
        if (sub.pendingRefund === 0n) throw new ConflictError('SERVING_NOTHING_TO_REFUND', `the sub-account for ${provider} is empty`);
        if (f.json) return printJson({ action: 'pending', provider, pendingRefund: sub.pendingRefund, unlockAt: sub.unlockAt });
        return lines([
          ['pending', `${eth(sub.pendingRefund)} from ${provider}`],
          ['unlocks', `${when(sub.unlockAt)} (${secondsUntil(sub.unlockAt, now)}); run this again then to claim it`],
        ]);
      }
      const requested = await levity.requestRefund(provider);
      if (f.json) return printJson({ action: 'requested', provider, amount: requested.amount, unlockAt: requested.unlockAt, tx: requested.hash });
      lines([
        ['requested', `${eth(requested.amount)} from ${provider}${sub.pendingRefund > 0n ? ' (added to the pending refund; its lock restarts)' : ''}`],
        ['unlocks', `${when(requested.unlockAt)} (${secondsUntil(requested.unlockAt, now)}); run this again then to claim it`],
        ['tx', requested.hash],
      ]);
    });

  flags(ledger.command('show'))
    .description('available funds and the sub-account per provider (every provider in the manifest unless --provider)')
    .option('--provider <address>', 'only this provider')
    .action(async (f: ProviderFlags) => {
      const { levity, manifest } = await connect(f);
      await printAccount(levity, f, {}, f.provider ? [providerOf(f, manifest)] : (manifest?.serving?.providers ?? []).map((p) => getAddress(p.address)));
    });

  const serving = program.command('serving').description('AI services registered on chain');
  flags(serving.command('list'))
    .description('every registered service with its URL, model and prices')
    .action(async (f: Flags) => {
      const { levity } = await connect(f);
      const services = await levity.listServices();
      if (f.json) return printJson(services);
      if (services.length === 0) return void process.stdout.write('no services registered\n');
      for (const s of services) {
        lines([
          ['service', `${s.name} (${s.serviceType}, ${s.verifiability})`],
          ['provider', s.provider],
          ['url', `${s.url}  (OpenAI base ${s.url}/v1)`],
          ['model', s.model],
          ['prices', `${s.inputPricePerToken} wei per prompt token, ${s.outputPricePerToken} wei per generated token`],
        ]);
        process.stdout.write('\n');
      }
    });

  flags(program.command('chat <prompt>'))
    .description('ask a provider; streams the reply to stdout, funds the sub-account when it is short, prints usage and cost on stderr')
    .option('--provider <address>', "provider (default: the devnet manifest's first)")
    .option('--model <name>', "model (default: the provider's first)")
    .option('--max-tokens <n>', 'tokens to generate at most (default 128)', positiveInt('--max-tokens'))
    .action(async (prompt: string, f: ChatFlags) => {
      const { levity, manifest } = await connect(f);
      const provider = providerOf(f, manifest);
      const url = await providerUrl(levity, provider, manifest, f);
      const billing = levity.billingFetch({ provider, url });
      const messages = [{ role: 'user' as const, content: prompt }];
      const quote = await billing.quote({ model: f.model, messages, max_tokens: f.maxTokens, stream: true });
      const funded = await topUp(levity, provider, quote.cumulative, quote.worstCase);
      if (funded > 0n) process.stderr.write(`funded ${eth(funded)} from available funds into the sub-account for ${provider}\n`);
      const result = await chat({
        billing,
        url,
        messages,
        model: quote.model,
        maxTokens: f.maxTokens,
        onDelta: f.json ? undefined : (text) => process.stdout.write(text),
      });
      const { receipt } = result;
      if (f.json) return printJson({ provider, text: result.text, finishReason: result.finishReason, usage: result.usage, funded, receipt });
      process.stdout.write('\n');
      process.stderr.write(
        `${result.usage.promptTokens} prompt + ${result.usage.completionTokens} completion tokens · cost ${receipt.cost} wei · ` +
          `spent with ${provider} ${receipt.spent} wei · nonce ${receipt.nonce} · response signature verified\n`,
      );
    });
}

function flags(command: Command): Command {
  return command
    .option('--devnet <dir|url>', 'devnet data dir (or its manifest file or URL) whose manifest names the endpoints', DEFAULT_DEVNET_DIR)
    .option('--rpc <url>', 'EVM JSON-RPC URL (instead of the manifest)')
    .option('--key <hex>', 'private key of the user (default: devnet account #1)')
    .option('--ledger <address>', 'ServingLedger contract (instead of the manifest)')
    .option('--registry <address>', 'ServiceRegistry contract (instead of the manifest)')
    .option('--json', 'print JSON');
}

async function connect(f: Flags): Promise<{ levity: ServingClient; manifest: Manifest | undefined }> {
  const complete = f.rpc && f.key && f.ledger;
  const manifest = complete ? undefined : await readManifest({ devnet: f.devnet });
  const rpc = f.rpc ?? manifest?.chain.rpc;
  if (!rpc) throw new InvalidInputError('CLI_NO_CHAIN', 'no chain RPC; pass --rpc URL');
  const key = f.key ?? defaultKey(manifest);
  if (!/^0x[0-9a-fA-F]{64}$/.test(key)) throw new InvalidInputError('CLI_INVALID_ARGUMENT', '--key must be 0x and 64 hex digits');
  const ledger = address(f.ledger ?? manifest?.chain.contracts.ServingLedger, '--ledger', `the devnet at ${f.devnet} has no ServingLedger; pass --ledger ADDRESS`);
  const registryText = f.registry ?? manifest?.chain.contracts.ServiceRegistry;
  const registry = registryText === undefined ? undefined : address(registryText, '--registry', '');
  const levity = await servingClient({ rpc, privateKey: key as Hex, ledger, registry });
  return { levity, manifest };
}

/** Account #1, not #0: the deployer's nonce then never races with the user's transactions. */
function defaultKey(manifest: Manifest | undefined): string {
  const accounts = manifest?.chain.accounts ?? [];
  const account = accounts[1] ?? accounts[0];
  if (!account) throw new InvalidInputError('CLI_NO_KEY', 'no --key given and the devnet manifest lists no accounts');
  return account.privateKey;
}

function providerOf(f: ProviderFlags, manifest: Manifest | undefined): Address {
  if (f.provider) return address(f.provider, '--provider', '');
  const first = manifest?.serving?.providers[0];
  if (!first) throw new InvalidInputError('CLI_NO_PROVIDER', 'the devnet manifest lists no serving provider; pass --provider ADDRESS');
  return getAddress(first.address);
}

/** The provider's URL: the manifest's when it lists the provider, else the registry's. */
async function providerUrl(levity: ServingClient, provider: Address, manifest: Manifest | undefined, f: Flags): Promise<string> {
  const listed = manifest?.serving?.providers.find((p) => getAddress(p.address) === provider);
  if (listed) return listed.url;
  if (!f.registry && !manifest?.chain.contracts.ServiceRegistry) {
    throw new InvalidInputError('CLI_NO_PROVIDER', `${provider} is not in the manifest and no --registry is known to look it up`);
  }
  const service = (await levity.listServices()).find((s) => s.provider === provider && s.serviceType === 'chat');
  if (!service) throw new InvalidInputError('CLI_NO_PROVIDER', `${provider} has no chat service in the registry`);
  return service.url;
}

/**
 * Funds the sub-account when it cannot back the cap the next receipt signs (the ledger counts
 * settled + balance + pending refund), with room for more turns; returns what it moved.
 */
async function topUp(levity: ServingClient, provider: Address, cumulative: bigint, worstCase: bigint): Promise<bigint> {
  const sub = await levity.subAccount(provider);
  const backed = sub.settled + sub.balance + sub.pendingRefund;
  if (cumulative <= backed) return 0n;
  const need = cumulative - backed;
  const { available } = await levity.ledgerAccount();
  if (available < need) {
    throw new ConflictError('SERVING_INSUFFICIENT_AVAILABLE', `the sub-account needs ${eth(need)} more and only ${eth(available)} is available`, {
      details: `deposit first: levity ledger deposit ${formatEther(need - available)}`,
      meta: { need, available },
    });
  }
  const amount = need + worstCase * (TOP_UP_REQUESTS - 1n) > available ? available : need + worstCase * (TOP_UP_REQUESTS - 1n);
  await levity.fund(provider, amount);
  return amount;
}

async function printAccount(levity: ServingClient, f: Flags, done: Record<string, unknown>, providers: Address[] = []): Promise<void> {
  const { available } = await levity.ledgerAccount();
  const wallet = await levity.client.getBalance({ address: levity.account.address });
  const subs = await Promise.all(providers.map(async (provider) => ({ provider, ...(await levity.subAccount(provider)) })));
  if (f.json) return printJson({ ...done, user: levity.account.address, wallet, available, subAccounts: subs });
  const rows: Array<[string, string]> = [];
  if (typeof done.deposited === 'bigint') rows.push(['deposited', eth(done.deposited)]);
  if (typeof done.withdrawn === 'bigint') rows.push(['withdrawn', eth(done.withdrawn)]);
  rows.push(['user', levity.account.address], ['wallet', eth(wallet)], ['available', eth(available)]);
  for (const s of subs) {
    const pending = s.pendingRefund > 0n ? `, refund pending ${eth(s.pendingRefund)} (unlocks ${when(s.unlockAt)})` : '';
    rows.push([`provider ${s.provider}`, `balance ${eth(s.balance)}${pending}, settled ${eth(s.settled)}, last nonce ${s.lastNonce}`]);
  }
  if (typeof done.tx === 'string') rows.push(['tx', done.tx]);
  lines(rows);
}

function ether(text: string): bigint {
  let value: bigint | undefined;
  try {
    value = /^\d+(\.\d{1,18})?$/.test(text) ? parseEther(text) : undefined;
  } catch {
    value = undefined;
  }
  if (value === undefined || value <= 0n) throw new InvalidInputError('CLI_INVALID_ARGUMENT', `AMOUNT must be a positive number of ether, not "${text}"`);
  return value;
}

function address(value: string | undefined, flag: string, missing: string): Address {
  if (value === undefined) throw new InvalidInputError('CLI_INVALID_ARGUMENT', missing);
  if (!isAddress(value, { strict: false })) throw new InvalidInputError('CLI_INVALID_ARGUMENT', `${flag} must be a 20-byte 0x address, not "${value}"`);
  return getAddress(value);
}

const bigMax = (a: bigint, b: bigint): bigint => (a > b ? a : b);
const secondsUntil = (unix: bigint, now: bigint): string => (unix > now ? `about ${unix - now} s from now` : 'now');
const eth = (wei: bigint): string => `${formatEther(wei)} ETH`;
const when = (unix: bigint): string => new Date(Number(unix) * 1000).toISOString();


