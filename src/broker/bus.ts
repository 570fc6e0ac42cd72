/** What the bridge needs from MQTT, whether the broker is embedded (aedes) or external (mqtt.js). */

export interface BusMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT 5 Response Topic of a request (external broker only) */
  responseTopic?: string | undefined;
  /** MQTT 5 Correlation Data of a request, to be echoed in the response */
  correlationData?: Buffer | undefined;
}

export interface PublishOptions {
  qos?: 0 | 1 | 2;
  retain?: boolean;
  /** MQTT 5 Message Expiry Interval; ignored by 3.1.1 (the embedded broker) */
  expiryMs?: number | undefined;
  /** MQTT 5 Correlation Data; ignored by 3.1.1 */
  correlationData?: Buffer | undefined;
}

export interface SubscribeOptions {
  /**
   * Every bridge instance needs every message (telemetry for STATUS). Default false: in external mode one
   * instance of the share group gets each message.
   */
  allInstances?: boolean;
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
  /**
   * False only when no subscription (of an MQTT client, connected or in a stored session, or in process) can
   * match a topic of `filter`, so that an unretained message there would reach no one: its payload need not even
   * be built. Ask per message. A retained message is kept for later subscribers: publish it regardless.
   */
  hasSubscribers(filter: string): boolean;
  /** In-process subscription; the handler must not throw. */
  subscribe(
    filter: string,
    handler: (message: BusMessage) => void,
    options?: SubscribeOptions,
  ): Promise<void>;
}

/** What the app needs of its broker, embedded or external. */
export interface BridgeBroker extends Bus {
  /** TCP port of the embedded broker's listener; 0 when not listening (and always for an external broker) */
  readonly port: number;
  /** MQTT up: the embedded broker listening, or connected to the external one */
  readonly up: boolean;
  /** First step of a shutdown: no new messages taken; resolves once those in flight are committed. */
  stopIntake(): Promise<void>;
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
  /** Must answer the same for a principal and topic while it is connected: the broker remembers the last yes. */
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
