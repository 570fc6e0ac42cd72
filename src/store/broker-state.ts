/**
 * Durable state of the embedded MQTT broker: retained messages, the subscriptions of persistent sessions, the
 * QoS 1/2 packets queued for them, inbound QoS 2 packets awaiting PUBREL, and last wills. Plain data only, so
 * the broker never sees SQL or a driver type; `store/sqlite/broker-state.ts` implements it.
 */

/** A PUBLISH (or, in the outgoing queue, a PUBREL that replaced it) as the broker keeps it. */
export interface BrokerPacket {
  cmd: 'publish' | 'pubrel';
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  dup: boolean;
  /** MQTT packet identifier once assigned; null while queued for a client that has not been sent it. */
  messageId: number | null;
  /** Broker instance that first handled the packet and its counter there: aedes' identity of a packet. */
  brokerId: string | null;
  brokerCounter: number | null;
}

export interface BrokerSubscription {
  topic: string;
  qos: 0 | 1 | 2;
  /** MQTT 5 subscription options, kept when present so a restore is exact. */
  rh?: number | undefined;
  rap?: boolean | undefined;
  nl?: boolean | undefined;
  subscriptionIdentifier?: number | undefined;
}

export interface OutgoingEntry {
  /** Position in the client's queue (ascending = delivery order); assigned by the caller, unique. */
  id: number;
  clientId: string;
  packet: BrokerPacket;
}

export interface IncomingEntry {
  clientId: string;
  messageId: number;
  packet: BrokerPacket;
}

export interface WillEntry {
  clientId: string;
  packet: BrokerPacket;
}

export interface BrokerStateSnapshot {
  retained: BrokerPacket[];
  subscriptions: Array<{ clientId: string; subscriptions: BrokerSubscription[] }>;
  /** Ascending by id. */
  outgoing: OutgoingEntry[];
  incoming: IncomingEntry[];
  wills: WillEntry[];
}

/**
 * Writes resolve once committed. Writes are applied in the order they are called, so a caller may issue
 * them without awaiting the previous one.
 */
export interface BrokerStateRepository {
  load(): Promise<BrokerStateSnapshot>;

  putRetained(packet: BrokerPacket): Promise<void>;
  deleteRetained(topic: string): Promise<void>;

  /** Adds or replaces the client's subscriptions with these topics. */
  putSubscriptions(clientId: string, subscriptions: BrokerSubscription[]): Promise<void>;
  deleteSubscriptions(clientId: string, topics: string[]): Promise<void>;
  /** Every subscription of the client. */
  clearSubscriptions(clientId: string): Promise<void>;

  enqueueOutgoing(entries: OutgoingEntry[]): Promise<void>;
  /** Replaces the packet of an entry, keeping its position. */
  updateOutgoing(id: number, packet: BrokerPacket): Promise<void>;
  deleteOutgoing(id: number): Promise<void>;

  putIncoming(entry: IncomingEntry): Promise<void>;
  deleteIncoming(clientId: string, messageId: number): Promise<void>;
  clearIncoming(clientId: string): Promise<void>;

  putWill(entry: WillEntry): Promise<void>;
  deleteWill(clientId: string): Promise<void>;
}
