import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import type { Logger } from '../shared/log.ts';
import { handleBody } from '../shared/json-rpc.ts';
import { mountJsonRpc } from '../shared/json-rpc-route.ts';
import type { CallHook, JsonRpcResponse } from '../shared/json-rpc.ts';
import type { Eip1193Provider, SubscribableProvider, SubscriptionMessage } from './eip1193.ts';

const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Adds `POST /` JSON-RPC to a role app. HTTP has no push channel, so no subscriptions here. */
export function mountChainRpc(app: Hono, provider: Eip1193Provider, metrics: Registry): void {
  const requests = new Counter({
    name: 'levity_chain_rpc_bodies_total',
    help: 'JSON-RPC request bodies answered, by transport',
    labelNames: ['transport'],
    registers: [metrics],
  });
  mountJsonRpc(app, provider, {
    maxBodyBytes: MAX_BODY_BYTES,
    onBody: () => requests.inc({ transport: 'http' }),
    hook: (request) =>
      request.method === 'eth_subscribe'
        ? Promise.reject({ code: -32601, message: 'eth_subscribe needs a WebSocket connection' })
        : undefined,
  });
}

/**
 * JSON-RPC over WebSocket on the same port. Subscriptions are owned by the socket that made
 * them: notifications go only there, and closing the socket cancels them. Requests go to
 * `provider`; notifications come from `events` (the EVM underneath).
 */
export function jsonRpcWebSocket(provider: Eip1193Provider, events: SubscribableProvider, log: Logger): {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
} {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  const owners = new Map<string, WebSocket>();

  const onMessage = (message: SubscriptionMessage) => {
    const socket = owners.get(message.data.subscription);
    if (!socket) return;
    socket.send(JSON.stringify({ jsonrpc: '2.0', method: 'eth_subscription', params: message.data }));
  };
  events.on('message', onMessage);

  wss.on('connection', (socket) => {
    const mine = new Set<string>();
    const hook: CallHook = (request) => {
      if (request.method === 'eth_subscribe') {
        return provider.request({ method: request.method, params: request.params ?? [] }).then((id) => {
          owners.set(String(id), socket);
          mine.add(String(id));
          return id;
        });
      }
      if (request.method === 'eth_unsubscribe') {
        const [id] = Array.isArray(request.params) ? request.params : [];
        if (!mine.has(String(id))) return Promise.resolve(false);
        mine.delete(String(id));
        owners.delete(String(id));
      }
      return undefined;
    };
    socket.on('message', (data) => {
      void handleBody(provider, data.toString(), hook).then((answer: JsonRpcResponse | JsonRpcResponse[] | undefined) => {
        if (answer !== undefined && socket.readyState === socket.OPEN) socket.send(JSON.stringify(answer));
      });
    });
    socket.on('close', () => {
      for (const id of mine) {
        owners.delete(id);
        provider.request({ method: 'eth_unsubscribe', params: [id] }).catch((err: unknown) => log.debug({ err }, 'unsubscribe failed'));
      }
    });
    socket.on('error', (err) => log.debug({ err }, 'websocket error'));
  });

  return {
    handleUpgrade(request, socket, head) {
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    },
    close() {
      events.removeListener?.('message', onMessage);
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}
