/**
 * Test support: a DA committee on a test EVM and a dispersal done by hand (encode, custody
 * requests, BLS aggregation, certificate), so retrieval and sampling can be tested without the
 * aggregator, and e2e tests can certify data the same way the aggregator would.
 *
 * sdk/ may not import server code, so the chain and the DA node factory are handed in: a test
 * passes `startTestEvm()`'s EVM and `createDaNode` (both structurally typed here).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToHex, createWalletClient, custom, hexToBytes } from 'viem';
import type { Abi, Account, Address, Chain, Hex, LocalAccount, PublicClient, Transport, WalletClient } from 'viem';
import { hardhat } from 'viem/chains';
import { blsAggregateSignatures, blsVerify } from '../../protocol/da/bls.ts';
import { g2ToEip2537 } from '../../protocol/da/bls-eip2537.ts';
import { encodeCustodyRequest } from '../../protocol/da/cell-wire.ts';
import { attestationMessage, blobSeed, commitmentsHash, dataRoot, epochSeed, signersBitmap } from '../../protocol/da/certificate.ts';
import { assignedCells } from '../../protocol/da/custody.ts';
import { dataAvailabilityAbi } from '../../protocol/da/da-contract-abi.ts';
import { blobCommitment, computeCellsAndProofs } from '../../protocol/da/kzg.ts';
import { payloadToBlobs } from '../../protocol/da/payload-blobs.ts';
import type { BlobHeader, DaDomain } from '../../protocol/da/types.ts';
import { readCommittee } from './committee.ts';
import type { FetchLike } from './da-http.ts';
import { daNodeClient } from './node-client.ts';

export const ETHER = 10n ** 18n;

export type DaWallet = WalletClient<Transport, Chain, Account>;

/** What the kit needs of `startTestEvm()`'s EVM. */
export type DaKitEvm = {
  publicClient: PublicClient;
  accounts: readonly LocalAccount[];
  compiled: { contracts: Record<string, { abi: Abi; bytecode: Hex } | undefined> };
  deploy(artifact: { abi: Abi; bytecode: Hex }, args?: readonly unknown[]): Promise<Address>;
};

/** The options the kit gives the node factory; `createDaNode` accepts them (plus a logger the test adds). */
export type DaKitNodeOptions = {
  dataDir: string;
  host: string;
  port: number;
  client: PublicClient;
  chainId: number;
  contract: Address;
  walletFor(account: LocalAccount): DaWallet;
  stakeWei: bigint;
  fund(address: Address, minimumWei: bigint): Promise<void>;
};

export type DaKitNode = { start(): Promise<void>; stop(): Promise<void>; readonly url: string; readonly address: Address };

export type StartDaTestNetOptions = {
  evm: DaKitEvm;
  createNode(options: DaKitNodeOptions): DaKitNode;
  /** Nodes to start and register, in order (default 4). */
  nodes?: number;
  /** Constructor arguments of the contract (default 1 ether, replication 2: the devnet's). */
  minStake?: bigint;
  replication?: number;
};

export type DaTestNet = {
  contract: Address;
  chainId: number;
  client: PublicClient;
  nodes: DaKitNode[];
  /** A funded dev account's wallet (account 1) that submits certificates. */
  submitter: DaWallet;
  walletFor(account: LocalAccount): DaWallet;
  /** Stops every node and removes their data dirs (the EVM is the caller's). */
  close(): Promise<void>;
};

/** Deploys DataAvailability and starts `nodes` DA nodes on port 0; each registers itself with stake. */
export async function startDaTestNet(options: StartDaTestNetOptions): Promise<DaTestNet> {
  const { evm } = options;
  const client = evm.publicClient;
  const artifact = evm.compiled.contracts.DataAvailability;
  if (!artifact) throw new Error('the compiled contracts have no DataAvailability');
  const contract = await evm.deploy(artifact, [options.minStake ?? ETHER, options.replication ?? 2]);
  const chainId = await client.getChainId();
  const walletFor = (account: LocalAccount): DaWallet =>
    createWalletClient({ account, chain: { ...hardhat, id: chainId }, transport: custom({ request: client.request }, { retryCount: 0 }) });
  const funder = walletFor(evm.accounts[0]!);
  const nodes: DaKitNode[] = [];
  const dirs: string[] = [];
  const close = async () => {
    for (const node of nodes.splice(0)) await node.stop().catch(() => undefined);
    await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
  };
  try {
    for (let i = 0; i < (options.nodes ?? 4); i++) {
      const dataDir = await mkdtemp(join(tmpdir(), `levity-da-kit-${i}-`));
      dirs.push(dataDir);
      const node = options.createNode({
        dataDir,
        host: '127.0.0.1',
        port: 0,
        client,
        chainId,
        contract,
        walletFor,
        stakeWei: options.minStake ?? ETHER,
        fund: async (address, minimumWei) => {
          const hash = await funder.sendTransaction({ to: address, value: minimumWei });
          await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
        },
      });
      // Registration order is committee order, so nodes start one after another.
      await node.start();
      nodes.push(node);
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { contract, chainId, client, nodes, submitter: walletFor(evm.accounts[1]!), walletFor, close };
}

export type DisperseByHandParameters = {
  client: PublicClient;
  /** Pays for and sends the certificate. */
  wallet: DaWallet;
  contract: Address;
  payload: Uint8Array;
  /** Committee indexes not to send cells to (they then do not sign). */
  skip?: readonly number[];
  fetch?: FetchLike;
};

export type DisperseByHandReturnType = {
  root: Hex;
  header: BlobHeader;
  signers: number[];
  txHash: Hex;
  gasUsed: bigint;
};

/**
 * Does what the aggregator does, step by step: encodes the payload into blobs, cells and proofs,
 * sends every node exactly its custody cells, checks and aggregates their signatures, and
 * submits the certificate. Throws if a node refuses or the certificate reverts.
 */
export async function disperseByHand(parameters: DisperseByHandParameters): Promise<DisperseByHandReturnType> {
  const { client, contract } = parameters;
  const [committee, chainId] = await Promise.all([readCommittee({ client, contract }), client.getChainId()]);
  const domain: DaDomain = { chainId, contract };
  const encoded = payloadToBlobs(parameters.payload).map((blob) => ({ commitment: blobCommitment(blob), ...computeCellsAndProofs(blob) }));
  const header: BlobHeader = {
    epoch: committee.epoch,
    payloadSize: parameters.payload.length,
    blobCount: encoded.length,
    commitments: encoded.map((blob) => bytesToHex(blob.commitment)),
  };
  const root = dataRoot(header);
  const seed = blobSeed(epochSeed(domain, committee.epoch), root);
  const message = attestationMessage(domain, root);
  const skip = new Set(parameters.skip ?? []);
  const n = committee.members.length;

  const attested = await Promise.all(
    committee.members
      .filter((member) => !skip.has(member.index))
      .map(async (member) => {
        const refs = assignedCells(seed, n, committee.replication, header.blobCount, member.index);
        const cells = refs.map((ref) => ({ ...ref, data: encoded[ref.blob]!.cells[ref.cell]!, proof: encoded[ref.blob]!.proofs[ref.cell]! }));
        const answer = await daNodeClient(member.url, { fetch: parameters.fetch }).custody(encodeCustodyRequest({ header, cells }));
        const signature = hexToBytes(answer.signature);
        if (!blsVerify(member.publicKey, message, signature)) throw new Error(`node ${member.index} signed something else`);
        return { index: member.index, signature };
      }),
  );
  const signers = attested.map((a) => a.index).sort((a, b) => a - b);
  const signature = g2ToEip2537(blsAggregateSignatures(attested.map((a) => a.signature)));
  const txHash = await parameters.wallet.writeContract({
    address: contract,
    abi: dataAvailabilityAbi,
    functionName: 'submitCertificate',
    args: [
      {
        epoch: header.epoch,
        payloadSize: BigInt(header.payloadSize),
        blobCount: header.blobCount,
        commitmentsHash: commitmentsHash(header.commitments),
        signers: signersBitmap(signers),
        signature: bytesToHex(signature),
      },
    ],
  });
  const receipt = await client.waitForTransactionReceipt({ hash: txHash, pollingInterval: 20 });
  if (receipt.status !== 'success') throw new Error(`submitCertificate reverted (tx ${txHash})`);
  return { root, header, signers, txHash, gasUsed: receipt.gasUsed };
}
