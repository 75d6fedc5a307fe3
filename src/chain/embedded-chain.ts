import { join } from 'node:path';
import { Gauge } from 'prom-client';
import type { Logger } from '../shared/log.ts';
import { createRoleApp, listen } from '../shared/http.ts';
import type { RunningHttpServer } from '../shared/http.ts';
import type { Startable } from '../shared/lifecycle.ts';
import { LevityError } from '../protocol/errors.ts';
import { createEdrEvm } from './edr-evm.ts';
import type { EdrEvm } from './edr-evm.ts';
import { catchUpClock, durableProvider, replayJournal } from './durable-provider.ts';
import type { DurableProvider } from './durable-provider.ts';
import { devAccounts, loadOrCreateGenesis } from './genesis.ts';
import type { DevAccount, Genesis, GenesisOptions } from './genesis.ts';
import { openJournal } from './journal.ts';
import type { Journal } from './journal.ts';
import { jsonRpcWebSocket, mountChainRpc } from './rpc-server.ts';

export type EmbeddedChainOptions = {
  /** The chain role's own data dir (genesis + journal). */
  dataDir: string;
  host: string;
  port: number;
  genesis: GenesisOptions;
  log: Logger;
  now?: () => Date;
};

export type EmbeddedChain = Startable & {
  /** HTTP JSON-RPC URL; the WebSocket URL is the same with ws://. */
  readonly url: string;
  readonly wsUrl: string;
  /** The journaled provider: in-process writes must go through it to be durable. */
  readonly provider: DurableProvider;
  readonly genesis: Genesis;
  readonly accounts: DevAccount[];
};

type Running = {
  evm: EdrEvm;
  journal: Journal;
  provider: DurableProvider;
  genesis: Genesis;
  accounts: DevAccount[];
  http: RunningHttpServer;
  closeWs: () => void;
};

/**
 * The devnet's settlement chain: an in-process EVM whose accepted writes are journaled, and
 * replayed at start, so blocks, balances, storage and receipts survive restarts and kill -9.
 */
export function createEmbeddedChain(options: EmbeddedChainOptions): EmbeddedChain {
  const log = options.log.child({ role: 'chain' });
  const now = options.now ?? (() => new Date());
  let running: Running | undefined;

  const need = (): Running => {
    if (!running) throw new LevityError('CHAIN_NOT_STARTED', 'the embedded chain is not running');
    return running;
  };

  return {
    get url() {
      return need().http.url;
    },
    get wsUrl() {
      return need().http.url.replace(/^http/, 'ws');
    },
    get provider() {
      return need().provider;
    },
    get genesis() {
      return need().genesis;
    },
    get accounts() {
      return need().accounts;
    },

    async start() {
      const started = Date.now();
      const genesis = await loadOrCreateGenesis(join(options.dataDir, 'genesis.json'), options.genesis, now());
      const evm = await createEdrEvm(genesis);
      const journal = await openJournal(join(options.dataDir, 'journal.ndjson'));
      try {
        await replayJournal(evm.provider, journal.records);
        await catchUpClock(evm.provider, Math.floor(now().getTime() / 1000));
      } catch (error) {
        await journal.close();
        await evm.close();
        throw error;
      }
      const provider = durableProvider(evm.provider, journal);

      const { app, metrics } = createRoleApp({
        role: 'chain',
        log,
        health: async () => ({
          chainId: genesis.chainId,
          blockNumber: Number(await evm.provider.request({ method: 'eth_blockNumber' })),
        }),
      });
      new Gauge({
        name: 'levity_chain_block_number',
        help: 'Latest block number of the embedded chain',
        registers: [metrics],
        async collect() {
          this.set(Number(await evm.provider.request({ method: 'eth_blockNumber' })));
        },
      });
      new Gauge({
        name: 'levity_chain_journal_writes',
        help: 'Writes journaled since this process started',
        registers: [metrics],
        collect() {
          this.set(provider.writes());
        },
      });
      mountChainRpc(app, provider, metrics);
      const http = await listen(app, options.host, options.port);
      const ws = jsonRpcWebSocket(provider, evm.provider, log);
      http.server.on('upgrade', (request, socket, head) => ws.handleUpgrade(request, socket, head));
      running = { evm, journal, provider, genesis, accounts: devAccounts(genesis.mnemonic, genesis.accounts), http, closeWs: ws.close };
      log.info(
        { url: http.url, replayed: journal.records.length, ms: Date.now() - started, chainId: genesis.chainId },
        'chain ready',
      );
    },

    async stop() {
      if (!running) return;
      const { http, closeWs, journal, evm } = running;
      running = undefined;
      closeWs();
      await http.close();
      await journal.close();
      await evm.close();
      log.info('chain stopped');
    },
  };
}
