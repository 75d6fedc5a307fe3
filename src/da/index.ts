/** The DA subsystem's public entry. */
export { createDaNode, DA_STORE_FILE } from './node/da-node.ts';
export type { DaNode, DaNodeOptions } from './node/da-node.ts';
export type { CustodyAnswer, CustodyProgress } from './node/da-service.ts';
export { createDaAggregator } from './aggregator/aggregator-node.ts';
export type { DaAggregator, DaAggregatorOptions } from './aggregator/aggregator-node.ts';
export type { DispersalJob, JobStatus } from './aggregator/job-store.ts';
