import type { DeployStep } from './deploy-contracts.ts';

/**
 * The contracts every Levity chain carries, in deployment order. A step's `args` can read the
 * addresses of the steps before it. Subsystems append their contracts here.
 */
export const CONTRACT_PLAN: readonly DeployStep[] = [{ name: 'NodeRegistry' }];
