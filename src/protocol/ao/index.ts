/** AO protocol rules shared by the MU, SU, CU and their clients (spec ao.md §3–§5). */
export type * from './types.ts';
export * from './assignment.ts';
export * from './cron.ts';
export * from './cursor.ts';
export * from './tags.ts';
export * from './module.ts';
export * from './lua-pattern.ts';
export * from './lua-pattern-cost.ts';
export * from './lua-pattern-gsub.ts';
export * from './lua-pattern-lib.ts';
