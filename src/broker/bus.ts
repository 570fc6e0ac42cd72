/** What the bridge needs from MQTT, whether the broker is embedded (aedes) or external (mqtt.js, later). */

export interface BusMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
}

/**
 * Runs for every message a device publishes, before the broker acknowledges it (guarantee 1): the returned
 * promise settles once whatever the message produced is committed. A rejection (or a throw) withholds the
 * PUBACK. `undefined` says there was nothing to commit: the broker acknowledges at once, without a promise hop.
 */
export type IntakeHandler = (message: BusMessage, clientId: string | null) => Promise<void> | undefined;

export interface Bus {
  start(): Promise<void>;
  stop(): Promise<void>;
  publish(topic: string, payload: string | Buffer, options?: PublishOptions): Promise<void>;
  /** In-process subscription; the handler must not throw. */
  subscribe(filter: string, handler: (message: BusMessage) => void): Promise<void>;
}

/** Who a connected MQTT client is, as decided at CONNECT. */
export interface Principal {
  kind: 'device' | 'app' | 'anonymous';
  /** device id or account name */
  name: string;
}

/** One string per account (all anonymous clients are one account): the owner of client ids and retained messages. */
export function accountKey(principal: Principal): string {
  return principal.kind === 'anonymous' ? 'anonymous' : `${principal.kind}:${principal.name}`;
}

/** Authentication and ACL for the embedded broker; the device registry provides the real one. */
export interface Access {
  authenticate(
    clientId: string,
    username: string | undefined,
    password: Buffer | undefined,
  ): Promise<Principal | null>;
  canPublish(principal: Principal, topic: string): boolean;
  canSubscribe(principal: Principal, filter: string): boolean;
  /** May a message on `topic` be delivered to this client (its subscription may be wider than its ACL)? */
  canReceive(principal: Principal, topic: string): boolean;
  /** The `accountKey` of the account that owns this client id by configuration, if any. */
  clientIdOwner(clientId: string): string | undefined;
}

/** Everyone may do everything: the demo's `allow_anonymous: true` with no accounts. */
export const openAccess: Access = {
  authenticate: async (_clientId, username) => ({ kind: 'anonymous', name: username ?? 'anonymous' }),
  canPublish: () => true,
  canSubscribe: () => true,
  canReceive: () => true,
  clientIdOwner: () => undefined,
};
