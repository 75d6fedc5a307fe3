/** AO actions: spawn processes, message them, read their results, publish modules. */
export { spawnProcess, spawnTags } from './spawn-process.ts';
export type { SpawnProcessParameters, SpawnProcessReturnType } from './spawn-process.ts';
export { sendMessage, messageTags } from './send-message.ts';
export type { SendMessageParameters, SendMessageReturnType } from './send-message.ts';
export { readResult, resultText, resultPrompt, resultError } from './read-result.ts';
export type { AoResult, ReadResultParameters, ReadResultReturnType } from './read-result.ts';
export { readResults } from './read-results.ts';
export type { ReadResultsParameters, ReadResultsReturnType, ResultEdge } from './read-results.ts';
export { dryRun } from './dry-run.ts';
export type { DryRunParameters, DryRunReturnType } from './dry-run.ts';
export { monitorProcess, unmonitorProcess } from './monitor-process.ts';
export type {
  MonitorProcessParameters,
  MonitorProcessReturnType,
  UnmonitorProcessParameters,
  UnmonitorProcessReturnType,
} from './monitor-process.ts';
export { publishModule } from './publish-module.ts';
export type { PublishModuleParameters, PublishModuleReturnType } from './publish-module.ts';
export { evalLua } from './eval-lua.ts';
export type { EvalLuaParameters, EvalLuaReturnType } from './eval-lua.ts';
export { loadAoSigner, createAoWallet, loadOrCreateAoWallet } from './wallet.ts';
export type { AoWalletType, LoadAoSignerReturnType, CreateAoWalletReturnType } from './wallet.ts';
export { AoClientErrorCode } from './ao-http.ts';
