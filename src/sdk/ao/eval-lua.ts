import type { DataItemSigner } from '../../protocol/ans104/index.ts';
import { invalidInput } from './ao-http.ts';
import { readResult } from './read-result.ts';
import type { AoResult } from './read-result.ts';
import { sendMessage } from './send-message.ts';

export type EvalLuaParameters = {
  mu: string;
  cu: string;
  /** Must be the process owner's: aos evaluates `Eval` only from its owner. */
  signer: DataItemSigner;
  process: string;
  code: string;
  timeoutMs?: number;
  signal?: AbortSignal;
};

export type EvalLuaReturnType = { messageId: string; result: AoResult };

/**
 * Runs Lua in the process the way the aos REPL does: an `Action=Eval` message whose Data is the
 * code, then its result (`Output.data` holds what it printed, `Error` a failure).
 */
export async function evalLua(parameters: EvalLuaParameters): Promise<EvalLuaReturnType> {
  if (typeof parameters.code !== 'string' || parameters.code.trim() === '') throw invalidInput('there is no Lua code to evaluate');
  const { messageId } = await sendMessage({
    mu: parameters.mu,
    signer: parameters.signer,
    process: parameters.process,
    tags: [{ name: 'Action', value: 'Eval' }],
    data: parameters.code,
    timeoutMs: parameters.timeoutMs,
    signal: parameters.signal,
  });
  const result = await readResult({
    cu: parameters.cu,
    process: parameters.process,
    message: messageId,
    timeoutMs: parameters.timeoutMs,
    signal: parameters.signal,
  });
  return { messageId, result };
}
