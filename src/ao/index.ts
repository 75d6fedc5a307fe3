/** The AO compute units: scheduler (SU), compute (CU) and messenger (MU). */
export { createSu } from './su/su-node.ts';
export type { SuNode, SuNodeOptions } from './su/su-node.ts';
export { createCu, defaultCuLimits } from './cu/cu-node.ts';
export type { CuNode, CuNodeOptions } from './cu/cu-node.ts';
export { luaRuntimeSource } from './vm/lua-runtime-source.ts';
export { httpCuClient, httpSuClient } from './unit-clients.ts';
export type { CuClient, ResultEdge, ResultsPage, SuAccepted, SuAssignParameters, SuClient } from './unit-clients.ts';
