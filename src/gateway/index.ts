/** The gateway subsystem's public entry. */
export { createGateway } from './gateway-node.ts';
export type { Gateway, GatewayOptions } from './gateway-node.ts';
export { createGatewayService, defaultGatewayServiceOptions } from './gateway-service.ts';
export type { GatewayInfo, GatewayService, GatewayServiceDeps, GatewayServiceOptions, IngestResult, ItemMeta } from './gateway-service.ts';
export { levityBundleStorage, dirBundleStorage, bundleIdOf } from './bundle-storage.ts';
export type { BundleStorage, LevityBundleStorageOptions } from './bundle-storage.ts';
export { gatewayClient } from './client.ts';
export type { GatewayClient, GatewayClientOptions } from './client.ts';
export type { BlockInfo } from './gateway-store.ts';
export { evmChainBlocks } from './chain-blocks.ts';
export type { ChainBlockSource } from './chain-blocks.ts';
export type { GraphqlResponse, GraphqlErrorJson } from './graphql-schema.ts';
