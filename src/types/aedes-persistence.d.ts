/**
 * Types for the in-memory persistence of aedes-persistence 11 (`asyncPersistence.js`, CommonJS), the one aedes
 * 1.2 uses by default, written from its code: the package's own `types/asyncPersistence.d.ts` is not reachable
 * through this path and types packets as mqtt-packet unions the broker never narrows.
 */
declare module 'aedes-persistence/asyncPersistence.js' {
  import type { Readable } from 'node:stream';

  /** A packet as aedes hands it over (an aedes-packet `Packet`, or a plain object in the abstract tests). */
  export interface PersistedPacket {
    cmd: string;
    topic: string;
    payload: Buffer | string;
    qos: number;
    retain: boolean;
    dup?: boolean;
    messageId?: number | null;
    brokerId?: string;
    brokerCounter?: number;
    clientId?: string;
    [key: string]: unknown;
  }

  export interface PersistenceClient {
    id: string;
    /** Set on a connected aedes client; absent on the `{ id }` objects aedes builds for lookups. */
    clean?: boolean;
  }

  export interface PersistedSubscription {
    topic: string;
    qos: number;
    rh?: number;
    rap?: boolean;
    nl?: boolean;
    subscriptionIdentifier?: number;
  }

  export interface PersistenceBroker {
    id: string;
  }

  export default class MemoryPersistence {
    constructor(opts?: { broadcastSubscriptions?: boolean });
    get broker(): PersistenceBroker;
    setup(broker: PersistenceBroker): Promise<void>;
    storeRetained(packet: PersistedPacket): Promise<void>;
    createRetainedStream(pattern: string): Readable;
    createRetainedStreamCombi(patterns: string[]): Readable;
    addSubscriptions(client: PersistenceClient, subs: PersistedSubscription[]): Promise<void>;
    removeSubscriptions(client: PersistenceClient, topics: string[]): Promise<void>;
    subscriptionsByClient(client: PersistenceClient): Promise<PersistedSubscription[]>;
    countOffline(): Promise<{ subsCount: number; clientsCount: number }>;
    subscriptionsByTopic(topic: string): Promise<Array<PersistedSubscription & { clientId: string }>>;
    cleanSubscriptions(client: PersistenceClient): Promise<void>;
    outgoingEnqueue(sub: { clientId: string }, packet: PersistedPacket): Promise<void>;
    outgoingEnqueueCombi(subs: Array<{ clientId: string }>, packet: PersistedPacket): Promise<void>;
    outgoingUpdate(client: PersistenceClient, packet: PersistedPacket): Promise<void>;
    outgoingClearMessageId(
      client: PersistenceClient,
      packet: { messageId?: number | null },
    ): Promise<PersistedPacket | undefined>;
    outgoingStream(client: PersistenceClient): Readable;
    incomingStorePacket(client: PersistenceClient, packet: PersistedPacket): Promise<void>;
    incomingGetPacket(
      client: PersistenceClient,
      packet: { messageId?: number | null },
    ): Promise<PersistedPacket>;
    incomingDelPacket(client: PersistenceClient, packet: { messageId?: number | null }): Promise<void>;
    cleanIncoming(client: PersistenceClient): Promise<void>;
    putWill(client: PersistenceClient, packet: PersistedPacket): Promise<void>;
    getWill(client: PersistenceClient): Promise<PersistedPacket | undefined>;
    delWill(client: PersistenceClient): Promise<PersistedPacket | undefined>;
    streamWill(brokers?: Record<string, number>): Readable;
    getClientList(topic: string): Readable;
    destroy(): Promise<void>;
  }
}
