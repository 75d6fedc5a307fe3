import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** Takes the request (true) or leaves it to the next listener (false). */
export type NodeRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Puts `route` in front of the server's request listeners (the Hono adapter): what it leaves
 * goes on to them. For the few hot routes where building a web Request and Response costs a
 * measurable share of the answer; everything else stays in the app.
 */
export function routeFirst(server: Server, route: NodeRoute): void {
  const rest = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (route(req, res)) return;
    for (const listener of rest) listener.call(server, req, res);
  });
}
