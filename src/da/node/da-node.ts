import { join } from 'node:path';
import { Counter } from 'prom-client';
import { bytesToHex } from 'viem';
import type { Account, Address, Chain, LocalAccount, PublicClient, Transport, WalletClient } from 'viem';
import { BYTES_PER_CELL, BYTES_PER_PROOF, CELLS_PER_BLOB, DEFAULT_MAX_PAYLOAD_BYTES, LENGTH_PREFIX_BYTES, PAYLOAD_BYTES_PER_BLOB } from '../../protocol/da/constants.ts';
import type { DaDomain } from '../../protocol/da/types.ts';
import { LevityError, UpstreamError, errorMessage } from '../../protocol/errors.ts';
import { createRoleApp, listen } from '../../shared/http.ts';
import type { RunningHttpServer } from '../../shared/http.ts';
import type { Startable } from '../../shared/lifecycle.ts';
import type { Logger } from '../../shared/log.ts';
import { createCommitteeCache, readCommitteeFromChain } from './committee.ts';
import type { CommitteeCache } from './committee.ts';
import { openDaStore } from './da-store.ts';
import type { DaStore } from './da-store.ts';
import { createDaNodeService, defaultDaNodeServiceOptions } from './da-service.ts';
import { loadOrCreateIdentity } from './identity.ts';
import { mountDaNodeRoutes } from './node-routes.ts';
import type { DaNodeIdentity } from './identity.ts';
import { ensureRegistered } from './registration.ts';

export type DaNodeOptions = {
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  client: PublicClient;
  chainId: number;
  /** The DataAvailability contract. */
  contract: Address;
  walletFor(account: LocalAccount): WalletClient<Transport, Chain, Account>;
  /** Sent with the registration; the contract refuses less than its minStake. */
  stakeWei: bigint;
  /** Gives the node's fresh address at least `minimumWei` (stake + gas) before it registers. */
  fund?(address: Address, minimumWei: bigint): Promise<void>;
  /** The URL registered on chain; defaults to the URL the server bound. */
  advertisedUrl?: string;
  /** The largest payload a custody request may describe; sizes the request body limit. */
  maxPayloadBytes?: number;
  /** Cells per KZG batch between yields to the event loop. */
  verifyChunkCells?: number;
  /** How long an unfinished streaming custody session may sit idle before its cells are dropped. */
  sessionIdleMs?: number;
};

export type DaNode = Startable & {
  readonly url: string;
  readonly address: Address;
  /** 48-byte compressed BLS12-381 G1 public key. */
  readonly publicKey: Uint8Array;
  /** This node's index in the committee, once it is registered. */
  readonly index: number | undefined;
};

export const DA_STORE_FILE = 'da-node.sqlite';

/**
 * The DA node role: a BLS signer that takes custody of the cells assigned to it. It keeps its
 * keys in `identity.json`, registers itself (with stake) in the DataAvailability contract at
 * first start, verifies every cell's KZG proof before storing it durably, and only then signs
 * the data root. Serves the cells back to retrievers and samplers.
 */
export function createDaNode(options: DaNodeOptions): DaNode {
  const log = options.log.child({ role: 'da-node' });
  const domain: DaDomain = { chainId: options.chainId, contract: options.contract };
  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  let identity: DaNodeIdentity | undefined;
  let running:
    | { http: RunningHttpServer; store: DaStore; committee: CommitteeCache; url: string; inflight: Set<Promise<unknown>> }
    | undefined;
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new LevityError('DA_NODE_NOT_STARTED', `the DA node is not running (${what})`);
    return value;
  };
  const myIndex = () => {
    const address = identity?.account.address;
    return running?.committee.peek()?.members.find((member) => member.address === address)?.index;
  };

  return {
    get url() {
      return need(running, 'url').url;
    },
    get address() {
      return need(identity, 'address').account.address;
    },
    get publicKey() {
      return need(identity, 'publicKey').bls.publicKey;
    },
    get index() {
      return myIndex();
    },

    async start() {
      const id = await loadOrCreateIdentity(options.dataDir);
      identity = id;
      const store = openDaStore({ path: join(options.dataDir, DA_STORE_FILE) });
      const committee = createCommitteeCache(async () => {
        try {
          return await readCommitteeFromChain(options.client, options.contract);
        } catch (cause) {
          // The chain being unreachable is not the caller's fault, nor an internal crash: a 502.
          throw new UpstreamError('DA_CHAIN_UNAVAILABLE', `could not read the DA committee from ${options.contract}: ${errorMessage(cause)}`, {
            cause,
            meta: { contract: options.contract },
          });
        }
      });
      const service = createDaNodeService(
        {
          domain,
          maxPayloadBytes,
          verifyChunkCells: options.verifyChunkCells ?? defaultDaNodeServiceOptions.verifyChunkCells,
          storeChunkCells: defaultDaNodeServiceOptions.storeChunkCells,
          sessionIdleMs: options.sessionIdleMs ?? defaultDaNodeServiceOptions.sessionIdleMs,
          maxSessions: defaultDaNodeServiceOptions.maxSessions,
        },
        { store, committee, address: id.account.address, bls: id.bls, log },
      );
      const { app, metrics } = createRoleApp({
        role: 'da-node',
        log,
        health: () => ({ address: id.account.address, index: myIndex(), epoch: committee.peek()?.epoch.toString(), ...store.stats(), custody: service.work() }),
      });
      const custodyRequests = new Counter({
        name: 'levity_da_node_custody_requests_total',
        help: 'Custody requests, by outcome (ok or the error code)',
        labelNames: ['outcome'],
        registers: [metrics],
      });
      let url = options.advertisedUrl ?? '';
      const inflight = new Set<Promise<unknown>>();

      app.get('/v1/info', (c) => {
        const index = myIndex();
        return c.json({
          address: id.account.address,
          publicKey: bytesToHex(id.bls.publicKey),
          url,
          contract: options.contract,
          chainId: options.chainId,
          ...(index === undefined ? {} : { index }),
        });
      });
      mountDaNodeRoutes(app, {
        service,
        log,
        maxBodyBytes: maxCustodyBodyBytes(maxPayloadBytes),
        inflight,
        onCustody: (outcome) => custodyRequests.inc({ outcome }),
      });

      let http: RunningHttpServer | undefined;
      try {
        http = await listen(app, options.host, options.port);
        url = options.advertisedUrl ?? http.url;
        const registered = await ensureRegistered({
          client: options.client,
          wallet: options.walletFor(id.account),
          account: id.account,
          domain,
          bls: id.bls,
          url,
          stakeWei: options.stakeWei,
          ...(options.fund ? { fund: options.fund } : {}),
          committee: await committee.refresh(),
          log,
        });
        if (registered) await committee.refresh();
      } catch (error) {
        await http?.close();
        store.close();
        throw error;
      }
      running = { http, store, committee, url, inflight };
      log.info({ url, address: id.account.address, index: myIndex(), epoch: committee.peek()?.epoch.toString(), ...store.stats() }, 'DA node ready');
    },

    async stop() {
      const current = running;
      running = undefined;
      if (!current) return;
      await current.http.close();
      await Promise.allSettled([...current.inflight]);
      current.store.close();
    },
  };
}

/** The largest custody request body: a node may hold every cell of the largest payload. */
export function maxCustodyBodyBytes(maxPayloadBytes: number): number {
  const blobs = Math.ceil((LENGTH_PREFIX_BYTES + maxPayloadBytes) / PAYLOAD_BYTES_PER_BLOB);
  const headerJson = 256 + blobs * (2 + 96 + 4); // quoted 0x-hex commitments and separators
  const perCell = 4 + 2 + BYTES_PER_CELL + BYTES_PER_PROOF;
  return 4 + 1 + 1 + 4 + headerJson + 4 + blobs * CELLS_PER_BLOB * perCell;
}
