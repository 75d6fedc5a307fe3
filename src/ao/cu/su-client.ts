import type { SuMessage, SuPaginatedMessages, SuProcess } from '../../protocol/ao/types.ts';
import { getJson } from './unit-http.ts';

export type SuClient = {
  process(processId: string): Promise<SuProcess>;
  /** One page of a process's schedule after `from` (exclusive, ms), ascending. */
  page(processId: string, from: number | undefined, limit: number): Promise<SuPaginatedMessages>;
  /** The slot of a message or assignment id. */
  slot(processId: string, id: string): Promise<SuMessage>;
  /** The SU's current time; every later slot is stamped after it. */
  timestamp(processId: string): Promise<{ timestamp: number; blockHeight: number }>;
};

export function httpSuClient(url: string): SuClient {
  const base = url.replace(/\/+$/, '');
  return {
    process: (processId) => getJson<SuProcess>(`${base}/processes/${processId}`, 'scheduler unit'),
    page(processId, from, limit) {
      const query = new URLSearchParams({ 'process-id': processId, limit: String(limit) });
      if (from !== undefined) query.set('from', String(from));
      return getJson<SuPaginatedMessages>(`${base}/${processId}?${query}`, 'scheduler unit');
    },
    slot: (processId, id) => getJson<SuMessage>(`${base}/${id}?process-id=${processId}`, 'scheduler unit'),
    async timestamp(processId) {
      const body = await getJson<{ timestamp: string; block_height: string }>(
        `${base}/timestamp?process-id=${processId}`,
        'scheduler unit',
      );
      return { timestamp: Number(body.timestamp), blockHeight: Number(body.block_height) };
    },
  };
}
