/**
 * The gateway store's writer thread: owns the only writing connection and runs each request as
 * one synchronous, fsynced commit, answering only after it is on disk.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../protocol/errors.ts';
import { openGatewayDb } from './store-schema.ts';
import { gatewayWrites } from './store-writes.ts';
import type { WriteReply, WriteRequest } from './store-writes.ts';

const db = openGatewayDb((workerData as { path: string }).path);
const writes = gatewayWrites(db);

parentPort!.on('message', (request: WriteRequest) => {
  let reply: WriteReply;
  try {
    if (request.op === 'addItems') reply = { id: request.id, result: writes.addItems(request.items) };
    else if (request.op === 'addBundle') reply = { id: request.id, result: writes.addBundle(request.bundle, request.placements) };
    else {
      db.close();
      reply = { id: request.id, result: null };
    }
  } catch (error) {
    reply = { id: request.id, error: { message: errorMessage(error), code: (error as { code?: string }).code } };
  }
  parentPort!.postMessage(reply);
  if (request.op === 'close') parentPort!.close();
});
