/**
 * Test support for the provider: a real EVM with the serving contracts, the generated tiny model
 * behind a real llama backend, and a user that signs receipts. Tests only.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Account, Address, Chain, Hex, LocalAccount, PublicClient, TransactionReceipt, Transport, WalletClient } from 'viem';
import type { CompiledContracts, ContractArtifact } from '../../chain/index.ts';
import { billingHeaders } from '../../protocol/serving/billing.ts';
import { signReceipt } from '../../protocol/serving/receipt.ts';
import type { ReceiptDomain } from '../../protocol/serving/receipt.ts';
import { servingLedgerAbi } from '../../protocol/serving/serving-ledger-abi.ts';
import { createLogger } from '../../shared/log.ts';
import type { Logger } from '../../shared/log.ts';
import type { ChatBackend } from '../backends/backend.ts';
import { createLlamaBackend } from '../backends/llama-backend.ts';
import { generateTinyModel } from '../backends/tiny-model.ts';
import { readSubAccount } from './settlement.ts';
import type { SubAccountView } from './settlement.ts';

export const LOCK_TIME = 60n;

/** The slice of src/chain/test-evm.ts's TestEvm the fixture uses (a test passes its own in). */
export type FixtureEvm = {
  publicClient: PublicClient;
  compiled: CompiledContracts;
  accounts: LocalAccount[];
  wallet(account: LocalAccount): WalletClient<Transport, Chain, Account>;
  deploy(artifact: ContractArtifact, args?: readonly unknown[]): Promise<Address>;
  close(): Promise<void>;
};

export type ServingFixture = {
  evm: FixtureEvm;
  registry: Address;
  ledger: Address;
  domain: ReceiptDomain;
  dir: string;
  modelPath: string;
  backend: ChatBackend;
  log: Logger;
  /** Sends a ledger transaction from `account` and asserts it succeeded. */
  ledgerTx(account: LocalAccount, functionName: 'deposit' | 'fund' | 'requestRefund' | 'claimRefund' | 'withdraw', args?: readonly unknown[], value?: bigint): Promise<TransactionReceipt>;
  subAccount(user: Address, provider: Address): Promise<SubAccountView>;
  close(): Promise<void>;
};

/** Deploys the serving contracts on `evm` and opens the tiny model; close() closes `evm` too. */
export async function startServingFixture(evm: FixtureEvm): Promise<ServingFixture> {
  const dir = await mkdtemp(join(tmpdir(), 'levity-provider-'));
  try {
    const registry = await evm.deploy(evm.compiled.contracts.ServiceRegistry!);
    const ledger = await evm.deploy(evm.compiled.contracts.ServingLedger!, [LOCK_TIME]);
    const modelPath = join(dir, 'models', 'levity-tiny.gguf');
    await generateTinyModel({ path: modelPath, seed: 7 });
    const backend = await createLlamaBackend({ modelPath });
    const log = createLogger({ level: process.env.LEVITY_TEST_LOG ?? 'silent', pretty: false });
    return {
      evm,
      registry,
      ledger,
      domain: { chainId: await evm.publicClient.getChainId(), verifyingContract: ledger },
      dir,
      modelPath,
      backend,
      log,
      async ledgerTx(account, functionName, args = [], value) {
        const hash = await evm.wallet(account).writeContract({
          address: ledger,
          abi: servingLedgerAbi,
          functionName,
          args,
          ...(value === undefined ? {} : { value }),
          account: evm.wallet(account).account,
          chain: evm.wallet(account).chain,
        } as Parameters<WalletClient<Transport, Chain, Account>['writeContract']>[0]);
        const receipt = await evm.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 });
        assert.equal(receipt.status, 'success');
        return receipt;
      },
      subAccount: (user, provider) => readSubAccount(evm.publicClient, ledger, user, provider),
      async close() {
        await backend.close();
        await evm.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await evm.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A user who signs cumulative receipts for one provider; nonces count up from 0 unless told. */
export function receiptSigner(account: LocalAccount, provider: Address, domain: ReceiptDomain) {
  let next = 0n;
  return {
    address: account.address,
    get nextNonce() {
      return next;
    },
    /** Headers for a receipt of `cumulative` (the next nonce, which is then used up, unless `nonce` is given). */
    async headers(cumulative: bigint, options: { nonce?: bigint; signer?: LocalAccount; provider?: Address } = {}): Promise<Record<string, string>> {
      const nonce = options.nonce ?? next++;
      const receipt = { user: account.address, provider: options.provider ?? provider, cumulativeAmount: cumulative, nonce };
      const signature: Hex = await signReceipt(options.signer ?? account, domain, receipt);
      return billingHeaders({ user: account.address, nonce, cumulative, signature });
    },
    /** Forgets a nonce that a refused request did not use. */
    reuse(nonce: bigint) {
      next = nonce;
    },
  };
}

export type SseEvent = { data: unknown };

/** Splits an SSE body into its `data:` payloads (JSON parsed, `[DONE]` kept as the string). */
export function parseSse(text: string): unknown[] {
  return text
    .split('\n\n')
    .map((block) => block.trim())
    .filter((block) => block !== '')
    .map((block) => {
      assert.ok(block.startsWith('data: '), `not an SSE data line: ${block.slice(0, 80)}`);
      const payload = block.slice('data: '.length);
      return payload === '[DONE]' ? payload : (JSON.parse(payload) as unknown);
    });
}
