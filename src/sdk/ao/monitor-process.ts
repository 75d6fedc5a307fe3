import { createDataItem } from '../../protocol/ans104/index.ts';
import type { DataItemSigner } from '../../protocol/ans104/index.ts';
import { aoFetch, assertId, assertUrl } from './ao-http.ts';

export type MonitorProcessParameters = {
  /** MU base URL. */
  mu: string;
  signer: DataItemSigner;
  process: string;
  timeoutMs?: number;
};

/** `id` is the signed request item's id, as aoconnect returns it. */
export type MonitorProcessReturnType = { id: string };
export type UnmonitorProcessParameters = MonitorProcessParameters;
export type UnmonitorProcessReturnType = MonitorProcessReturnType;

/** Asks the MU to crank the process's cron results (and push their outboxes) as they come due. */
export function monitorProcess(parameters: MonitorProcessParameters): Promise<MonitorProcessReturnType> {
  return monitorRequest('POST', parameters);
}

/** Stops what monitorProcess started. */
export function unmonitorProcess(parameters: UnmonitorProcessParameters): Promise<UnmonitorProcessReturnType> {
  return monitorRequest('DELETE', parameters);
}

async function monitorRequest(method: 'POST' | 'DELETE', parameters: MonitorProcessParameters): Promise<MonitorProcessReturnType> {
  const mu = assertUrl('mu', parameters.mu);
  assertId('process', parameters.process);
  // The MU authenticates the request by this item: target = pid, data " ", no tags (aoconnect's shape).
  const item = await createDataItem({ signer: parameters.signer, target: parameters.process, data: ' ' });
  await aoFetch({
    unit: 'MU',
    url: `${mu}/monitor/${parameters.process}`,
    method,
    body: item.raw,
    contentType: 'application/octet-stream',
    timeoutMs: parameters.timeoutMs,
  });
  return { id: item.id };
}
