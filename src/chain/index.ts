/** The chain subsystem's public entry: what other subsystems and composition roots may use. */
export { createEmbeddedChain } from './embedded-chain.ts';
export type { EmbeddedChain, EmbeddedChainOptions } from './embedded-chain.ts';
export { compileContracts, CONTRACTS_DIR, SOLC_CACHE_DIR } from './compile-contracts.ts';
export type { CompiledContracts, ContractArtifact } from './compile-contracts.ts';
export { ensureDeployed } from './deploy-contracts.ts';
export type { DeployStep } from './deploy-contracts.ts';
export { CONTRACT_PLAN } from './contract-plan.ts';
export { advertiseNodes, nodesByRole } from './node-registry.ts';
export type { Advertisement, RegisteredNode } from './node-registry.ts';
export { devAccounts } from './genesis.ts';
export type { DevAccount, Genesis, GenesisOptions } from './genesis.ts';
export { levityChain } from './viem-chain.ts';
export type { Eip1193Provider } from './eip1193.ts';
