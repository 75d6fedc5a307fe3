/** The AO Messenger Unit: public surface for the composition root and tests. */
export { createMu, MU_MAX_BODY_BYTES } from './mu-node.ts';
export type { Mu, MuOptions } from './mu-node.ts';
export { createMuService } from './mu-service.ts';
export type { Accepted, AcceptedAssignment, AssignParameters, MuService, MuServiceDeps, MuServiceOptions } from './mu-service.ts';
export { createCrankQueue, createCrankWorkers, defaultRetryPolicy } from './crank-queue.ts';
export type { ClaimedJob, CrankQueue, CrankWorkers, JobContext, NewJob, RetryPolicy } from './crank-queue.ts';
export {
  anchorFor,
  assignmentsTag,
  crankKeys,
  createCrank,
  dataFor,
  isPermanentCrankError,
  pushedMessageTags,
  readOutbox,
  spawnProcessTags,
  spawnedNoticeTags,
} from './crank.ts';
export type { Crank, CrankDeps, CrankJob, Outbox, PushContext } from './crank.ts';
export { createMonitor, sqliteMonitorStore } from './monitor.ts';
export type { Monitor, MonitorOptions, MonitorStore } from './monitor.ts';
export { loadOrCreateWallet } from '../wallet.ts';
export type { UnitWallet } from '../wallet.ts';
