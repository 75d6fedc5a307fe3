/** The slice of an EIP-1193 provider the chain role needs. */
export type RequestArguments = { method: string; params?: readonly unknown[] | object };

export type Eip1193Provider = {
  request(args: RequestArguments): Promise<unknown>;
};

/** Subscription notifications (`eth_subscribe`) arrive as `message` events. */
export type SubscriptionMessage = {
  type: 'eth_subscription';
  data: { subscription: string; result: unknown };
};

export type SubscribableProvider = Eip1193Provider & {
  on(event: 'message', listener: (message: SubscriptionMessage) => void): unknown;
  off?(event: 'message', listener: (message: SubscriptionMessage) => void): unknown;
  removeListener?(event: 'message', listener: (message: SubscriptionMessage) => void): unknown;
};

export function paramsArray(params: RequestArguments['params']): unknown[] {
  if (params === undefined) return [];
  return Array.isArray(params) ? [...params] : [params];
}
