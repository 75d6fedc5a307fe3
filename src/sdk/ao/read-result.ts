import { UpstreamError } from '../../protocol/errors.ts';
import type { OutboxAssignment, OutboxMessage, OutboxSpawn } from '../../protocol/ao/index.ts';
import { AoClientErrorCode, aoFetch, assertId, assertUrl, jsonBody } from './ao-http.ts';

/**
 * One evaluation as the CU reports it. `Output` is whatever the process produced (aos gives
 * `{data, prompt, print?}`); `Error` is set when the evaluation failed and its effects were
 * rolled back.
 */
export type AoResult = {
  Output: unknown;
  Messages: OutboxMessage[];
  Spawns: OutboxSpawn[];
  Assignments: OutboxAssignment[];
  Error?: unknown;
  GasUsed?: number;
};

export type ReadResultParameters = {
  /** CU base URL. */
  cu: string;
  process: string;
  message: string;
  /** The CU answers only once the message is evaluated, which may take a while after a send. */
  timeoutMs?: number;
  signal?: AbortSignal;
};

export type ReadResultReturnType = AoResult;

/** The result of evaluating `message` in `process`; waits for the CU to evaluate it. */
export async function readResult(parameters: ReadResultParameters): Promise<ReadResultReturnType> {
  const cu = assertUrl('cu', parameters.cu);
  assertId('process', parameters.process);
  assertId('message', parameters.message);
  const response = await aoFetch({
    unit: 'CU',
    url: `${cu}/result/${parameters.message}?process-id=${parameters.process}`,
    timeoutMs: parameters.timeoutMs ?? 120_000,
    signal: parameters.signal,
  });
  return toAoResult(await jsonBody('CU', response), response.url);
}

/** Checks a CU answer is a result and fills in the lists a unit may leave out. */
export function toAoResult(body: unknown, url: string): AoResult {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new UpstreamError(AoClientErrorCode.badReply, 'the CU answered something that is not a result', { meta: { url } });
  }
  const value = body as Partial<Record<keyof AoResult, unknown>>;
  const list = <T>(field: unknown): T[] => (Array.isArray(field) ? (field as T[]) : []);
  const result: AoResult = {
    Output: value.Output,
    Messages: list<OutboxMessage>(value.Messages),
    Spawns: list<OutboxSpawn>(value.Spawns),
    Assignments: list<OutboxAssignment>(value.Assignments),
  };
  if (value.Error !== undefined && value.Error !== null && value.Error !== '') result.Error = value.Error;
  if (typeof value.GasUsed === 'number') result.GasUsed = value.GasUsed;
  return result;
}

/** What a result printed: aos's `Output.data`, or the Output itself when it is a plain value. */
export function resultText(result: Pick<AoResult, 'Output'>): string {
  const output = result.Output;
  if (output === undefined || output === null) return '';
  if (typeof output === 'string') return output;
  if (typeof output === 'number' || typeof output === 'boolean') return String(output);
  if (typeof output === 'object' && 'data' in output) {
    const data = (output as { data: unknown }).data;
    if (data === undefined || data === null) return '';
    return typeof data === 'string' ? data : JSON.stringify(data);
  }
  return JSON.stringify(output);
}

/** aos's prompt (`Output.prompt`), when the process sent one. */
export function resultPrompt(result: Pick<AoResult, 'Output'>): string | undefined {
  const output = result.Output;
  if (output && typeof output === 'object' && 'prompt' in output) {
    const prompt = (output as { prompt: unknown }).prompt;
    if (typeof prompt === 'string' && prompt !== '') return prompt;
  }
  return undefined;
}

/** The evaluation's error as text, or undefined when it succeeded. */
export function resultError(result: Pick<AoResult, 'Error'>): string | undefined {
  const error = result.Error;
  if (error === undefined || error === null || error === '') return undefined;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
