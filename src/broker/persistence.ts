import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import MemoryPersistence, {
  type PersistedPacket,
  type PersistedSubscription,
  type PersistenceBroker,
  type PersistenceClient,
} from 'aedes-persistence/asyncPersistence.js';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type {
  BrokerPacket,
  BrokerStateRepository,
  BrokerSubscription,
  OutgoingEntry,
} from '../store/broker-state.js';
import { FilterIndex } from './filter-index.js';

/** aedes-packet's constructor: copies a packet, taking brokerId/brokerCounter from `broker` when absent. */
const Packet = createRequire(import.meta.url)('aedes-packet') as new (
  original: PersistedPacket,
  broker?: PersistenceBroker,
) => PersistedPacket;

export interface BrokerPersistenceOptions {
  /** Or a function that makes it when the broker starts (the store opens after the broker is built). */
  repository: BrokerStateRepository | (() => BrokerStateRepository);
  logger: Logger;
  /** Most retained topics kept; a retained message on a new topic past this is delivered but not kept. Default 10 000. */
  maxRetainedMessages?: number;
  /** Largest retained payload kept, in bytes; a larger one is delivered but not kept. Default 64 KiB. */
  maxRetainedPayloadBytes?: number;
  /** Most QoS 1/2 messages queued per persistent session; past it the oldest is dropped. Default 1000. */
  maxQueuedPerClient?: number;
  /**
   * Retained topics whose owner publishes them again at every start (the bridge's alert topics, from the alert
   * table): kept in memory only, not written per message; rows of them an older version stored are dropped at
   * load. Default: none.
   */
  republished?: (topic: string) => boolean;
}

export const BROKER_PERSISTENCE_DEFAULTS = {
  maxRetainedMessages: 10_000,
  maxRetainedPayloadBytes: 64 * 1024,
  maxQueuedPerClient: 1000,
} as const;

interface OutgoingSlot {
  id: number;
  packet: PersistedPacket;
}

const EMPTY = Buffer.alloc(0);
const WARN_INTERVAL_MS = 60_000;

function toBuffer(payload: PersistedPacket['payload'] | undefined): Buffer {
  if (payload === undefined || payload === null) return EMPTY;
  if (Buffer.isBuffer(payload)) return payload;
  return Buffer.from(payload as string | Uint8Array);
}

function toBrokerPacket(p: PersistedPacket): BrokerPacket {
  return {
    cmd: p.cmd === 'pubrel' ? 'pubrel' : 'publish',
    topic: p.topic ?? '',
    payload: toBuffer(p.payload),
    qos: (p.qos ?? 0) as BrokerPacket['qos'],
    retain: p.retain === true,
    dup: p.dup === true,
    messageId: typeof p.messageId === 'number' ? p.messageId : null,
    brokerId: p.brokerId ?? null,
    brokerCounter: typeof p.brokerCounter === 'number' ? p.brokerCounter : null,
  };
}

function fromBrokerPacket(p: BrokerPacket): PersistedPacket {
  const packet: PersistedPacket = {
    cmd: p.cmd,
    topic: p.topic,
    payload: p.payload,
    qos: p.qos,
    retain: p.retain,
    dup: p.dup,
  };
  if (p.messageId !== null) packet.messageId = p.messageId;
  if (p.brokerId !== null) packet.brokerId = p.brokerId;
  if (p.brokerCounter !== null) packet.brokerCounter = p.brokerCounter;
  return packet;
}

function toSubscription(s: PersistedSubscription): BrokerSubscription {
  return {
    topic: s.topic,
    qos: s.qos as BrokerSubscription['qos'],
    rh: s.rh,
    rap: s.rap,
    nl: s.nl,
    subscriptionIdentifier: s.subscriptionIdentifier,
  };
}

function fromSubscription(s: BrokerSubscription): PersistedSubscription {
  const sub: PersistedSubscription = { topic: s.topic, qos: s.qos };
  if (s.rh !== undefined) sub.rh = s.rh;
  if (s.rap !== undefined) sub.rap = s.rap;
  if (s.nl !== undefined) sub.nl = s.nl;
  if (s.subscriptionIdentifier !== undefined) sub.subscriptionIdentifier = s.subscriptionIdentifier;
  return sub;
}

/**
 * aedes persistence that survives a restart: aedes-persistence's in-memory persistence answers every lookup,
 * and every change of durable state is written through to a `BrokerStateRepository` (resolving once
 * committed); `setup` loads the repository back into memory. The outgoing queues are kept here rather than in
 * the memory persistence, whose private arrays would not say which entry an update touched.
 *
 * Nothing is written for clean sessions with no durable state: a QoS 1 publish that no persistent session
 * subscribes to costs no write, and neither do the connects of clean clients without a will.
 */
export class BrokerPersistence extends MemoryPersistence {
  private readonly makeRepository: () => BrokerStateRepository;
  private repository: BrokerStateRepository | undefined;
  private readonly log: Logger;
  private readonly limits: Required<Omit<BrokerPersistenceOptions, 'repository' | 'logger' | 'republished'>>;
  private readonly republished: (topic: string) => boolean;
  private readonly outgoing = new Map<string, OutgoingSlot[]>();
  private nextOutgoingId = 1;
  /** retained topic -> payload size: the memory persistence's map is private */
  private readonly retainedSizes = new Map<string, number>();
  /** clients with inbound QoS 2 packets written to the repository */
  private readonly incomingClients = new Set<string>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly warned = new Map<string, { at: number; suppressed: number }>();
  private loaded = false;
  /**
   * The stored sessions' subscriptions (owner: the client id), so that the broker can tell that a topic has no
   * subscriber without asking for its matches. It may hold a pair the memory persistence no longer does, never
   * the other way round.
   */
  readonly storedFilters = new FilterIndex();

  constructor(options: BrokerPersistenceOptions) {
    super();
    const repository = options.repository;
    this.makeRepository = typeof repository === 'function' ? repository : () => repository;
    this.log = options.logger.child({ module: 'broker-state' });
    this.limits = {
      maxRetainedMessages: options.maxRetainedMessages ?? BROKER_PERSISTENCE_DEFAULTS.maxRetainedMessages,
      maxRetainedPayloadBytes:
        options.maxRetainedPayloadBytes ?? BROKER_PERSISTENCE_DEFAULTS.maxRetainedPayloadBytes,
      maxQueuedPerClient: options.maxQueuedPerClient ?? BROKER_PERSISTENCE_DEFAULTS.maxQueuedPerClient,
    };
    this.republished = options.republished ?? (() => false);
  }

  /** Loads the stored state on the first start; later starts (broker stopped and started) keep memory as is. */
  override async setup(broker: PersistenceBroker): Promise<void> {
    await super.setup(broker);
    if (this.loaded) return;
    this.loaded = true;
    let snapshot: Awaited<ReturnType<BrokerStateRepository['load']>>;
    try {
      this.repository = this.makeRepository();
      snapshot = await this.repository.load();
    } catch (err) {
      throw new BridgeError('ERR_STORE', `cannot load the broker state: ${(err as Error).message}`, {
        cause: err,
      });
    }
    for (const packet of snapshot.retained) {
      if (this.republished(packet.topic)) {
        // its owner publishes the current state again; this row may be stale (written by an older version)
        await this.write(this.repository.deleteRetained(packet.topic));
        continue;
      }
      await super.storeRetained(fromBrokerPacket(packet));
      this.retainedSizes.set(packet.topic, packet.payload.length);
    }
    for (const { clientId, subscriptions } of snapshot.subscriptions) {
      for (const sub of subscriptions) this.storedFilters.add(sub.topic, clientId);
      await super.addSubscriptions({ id: clientId }, subscriptions.map(fromSubscription));
    }
    for (const entry of snapshot.outgoing) {
      this.queueOf(entry.clientId).push({ id: entry.id, packet: fromBrokerPacket(entry.packet) });
      this.nextOutgoingId = Math.max(this.nextOutgoingId, entry.id + 1);
    }
    for (const entry of snapshot.incoming) {
      await super.incomingStorePacket({ id: entry.clientId }, fromBrokerPacket(entry.packet));
      this.incomingClients.add(entry.clientId);
    }
    for (const will of snapshot.wills) {
      const packet = fromBrokerPacket(will.packet);
      await super.putWill({ id: will.clientId }, packet);
      // putWill stamps this broker's id on the (stored) object; a will from before the restart keeps the old
      // one, so aedes publishes it unless the client comes back first (the old broker sends no heartbeat).
      if (will.packet.brokerId !== null) packet.brokerId = will.packet.brokerId;
    }
    this.log.info(
      {
        retained: snapshot.retained.length,
        sessions: snapshot.subscriptions.length,
        queued: snapshot.outgoing.length,
        wills: snapshot.wills.length,
      },
      'broker state loaded',
    );
  }

  private get repo(): BrokerStateRepository {
    if (!this.repository) throw new BridgeError('ERR_STORE', 'broker state used before setup()');
    return this.repository;
  }

  // retained messages

  override async storeRetained(packet: PersistedPacket): Promise<void> {
    const topic = packet.topic;
    // one write per alert change, of a state the alert table holds anyway
    if (this.republished(topic)) return super.storeRetained(packet);
    const size = toBuffer(packet.payload).length;
    if (size === 0) {
      await super.storeRetained(packet);
      if (this.retainedSizes.delete(topic)) await this.write(this.repo.deleteRetained(topic));
      return;
    }
    if (size > this.limits.maxRetainedPayloadBytes) {
      // The newer message replaces the older one for live subscribers; keeping the older one for late
      // subscribers would show them a state that no longer holds.
      this.warn(
        'retained-size',
        { topic, bytes: size, limit: this.limits.maxRetainedPayloadBytes },
        'retained message too large to keep (maxRetainedPayloadBytes); delivered, not retained',
      );
      await super.storeRetained({ ...packet, payload: EMPTY });
      if (this.retainedSizes.delete(topic)) await this.write(this.repo.deleteRetained(topic));
      return;
    }
    if (!this.retainedSizes.has(topic) && this.retainedSizes.size >= this.limits.maxRetainedMessages) {
      this.warn(
        'retained-count',
        { topic, limit: this.limits.maxRetainedMessages },
        'too many retained topics to keep another (maxRetainedMessages); delivered, not retained',
      );
      return;
    }
    await super.storeRetained(packet);
    this.retainedSizes.set(topic, size);
    await this.write(this.repo.putRetained(toBrokerPacket(packet)));
  }

  // subscriptions (aedes calls these for persistent sessions only, except cleanSubscriptions)

  override async addSubscriptions(client: PersistenceClient, subs: PersistedSubscription[]): Promise<void> {
    // indexed when aedes calls, not when the write ends
    for (const sub of subs) this.storedFilters.add(sub.topic, client.id);
    await super.addSubscriptions(client, subs);
    await this.write(this.repo.putSubscriptions(client.id, subs.map(toSubscription)));
  }

  override async removeSubscriptions(client: PersistenceClient, topics: string[]): Promise<void> {
    // unindexed once the memory persistence no longer holds them (`storedFilters`), before the write ends
    await super.removeSubscriptions(client, topics);
    for (const topic of topics) this.storedFilters.delete(topic, client.id);
    await this.write(this.repo.deleteSubscriptions(client.id, topics));
  }

  /** Runs on every clean connect: written only when the client had a stored session. */
  override async cleanSubscriptions(client: PersistenceClient): Promise<void> {
    const had = await super.subscriptionsByClient(client);
    await super.cleanSubscriptions(client);
    for (const sub of had) this.storedFilters.delete(sub.topic, client.id);
    if (had.length > 0) await this.write(this.repo.clearSubscriptions(client.id));
  }

  /**
   * The stored sessions' subscriptions matching a topic, which aedes asks for every QoS 1/2 publish (to queue it
   * for the sessions that are offline). With none stored at all (clean sessions only) the answer is known without
   * matching the topic: `storedFilters` holds every pair the memory persistence does.
   */
  override subscriptionsByTopic(topic: string): ReturnType<MemoryPersistence['subscriptionsByTopic']> {
    if (this.storedFilters.size === 0) return Promise.resolve([]);
    return super.subscriptionsByTopic(topic);
  }

  // outgoing queues: same semantics as aedes-persistence's memory persistence, with ids the repository keys on

  override async outgoingEnqueue(sub: { clientId: string }, packet: PersistedPacket): Promise<void> {
    await this.enqueue([sub], packet);
  }

  override async outgoingEnqueueCombi(
    subs: Array<{ clientId: string }>,
    packet: PersistedPacket,
  ): Promise<void> {
    if (subs.length === 0) return;
    await this.enqueue(subs, packet);
  }

  private async enqueue(subs: Array<{ clientId: string }>, packet: PersistedPacket): Promise<void> {
    const entries: OutgoingEntry[] = [];
    const writes: Array<Promise<void>> = [];
    for (const sub of subs) {
      const queue = this.queueOf(sub.clientId);
      if (queue.length >= this.limits.maxQueuedPerClient) {
        const dropped = queue.shift()!;
        writes.push(this.repo.deleteOutgoing(dropped.id));
        this.warn(
          `queue:${sub.clientId}`,
          { client: sub.clientId, limit: this.limits.maxQueuedPerClient },
          'session queue full (maxQueuedPerClient); oldest message dropped',
        );
      }
      const slot = { id: this.nextOutgoingId++, packet: new Packet(packet) };
      queue.push(slot);
      entries.push({ id: slot.id, clientId: sub.clientId, packet: toBrokerPacket(slot.packet) });
    }
    writes.push(this.repo.enqueueOutgoing(entries));
    await this.write(Promise.all(writes));
  }

  override async outgoingUpdate(client: PersistenceClient, packet: PersistedPacket): Promise<void> {
    const queue = this.outgoing.get(client.id) ?? [];
    for (const slot of queue) {
      const queued = slot.packet;
      if (queued.brokerId === packet.brokerId) {
        if (queued.brokerCounter === packet.brokerCounter) {
          queued.messageId = packet.messageId;
          await this.write(this.repo.updateOutgoing(slot.id, toBrokerPacket(queued)));
          return;
        }
        // messageIds wrap at 65535: a same-broker entry with another counter is another message
      } else if (queued.messageId === packet.messageId) {
        slot.packet = packet;
        await this.write(this.repo.updateOutgoing(slot.id, toBrokerPacket(packet)));
        return;
      }
    }
    throw new Error('no such packet');
  }

  override async outgoingClearMessageId(
    client: PersistenceClient,
    packet: { messageId?: number | null },
  ): Promise<PersistedPacket | undefined> {
    const queue = this.outgoing.get(client.id);
    if (!queue) return undefined;
    const index = queue.findIndex((slot) => slot.packet.messageId === packet.messageId);
    if (index < 0) return undefined;
    const [slot] = queue.splice(index, 1);
    if (queue.length === 0) this.outgoing.delete(client.id);
    await this.write(this.repo.deleteOutgoing(slot!.id));
    return slot!.packet;
  }

  override outgoingStream(client: PersistenceClient): Readable {
    return Readable.from((this.outgoing.get(client.id) ?? []).map((slot) => slot.packet));
  }

  private queueOf(clientId: string): OutgoingSlot[] {
    let queue = this.outgoing.get(clientId);
    if (!queue) {
      queue = [];
      this.outgoing.set(clientId, queue);
    }
    return queue;
  }

  // inbound QoS 2 packets awaiting PUBREL [MQTT-4.3.3]

  override async incomingStorePacket(client: PersistenceClient, packet: PersistedPacket): Promise<void> {
    await super.incomingStorePacket(client, packet);
    // a clean session's state ends with its connection [MQTT-3.1.2-6]: nothing to keep across a restart
    if (client.clean === true || typeof packet.messageId !== 'number') return;
    this.incomingClients.add(client.id);
    const stored = new Packet(packet);
    stored.messageId = packet.messageId;
    await this.write(
      this.repo.putIncoming({
        clientId: client.id,
        messageId: packet.messageId,
        packet: toBrokerPacket(stored),
      }),
    );
  }

  override async incomingDelPacket(
    client: PersistenceClient,
    packet: { messageId?: number | null },
  ): Promise<void> {
    await super.incomingDelPacket(client, packet);
    if (this.incomingClients.has(client.id) && typeof packet.messageId === 'number') {
      await this.write(this.repo.deleteIncoming(client.id, packet.messageId));
    }
  }

  override async cleanIncoming(client: PersistenceClient): Promise<void> {
    await super.cleanIncoming(client);
    if (this.incomingClients.delete(client.id)) await this.write(this.repo.clearIncoming(client.id));
  }

  // last wills

  override async putWill(client: PersistenceClient, packet: PersistedPacket): Promise<void> {
    await super.putWill(client, packet);
    await this.write(this.repo.putWill({ clientId: client.id, packet: toBrokerPacket(packet) }));
  }

  override async delWill(client: PersistenceClient): Promise<PersistedPacket | undefined> {
    const will = await super.delWill(client);
    if (will) await this.write(this.repo.deleteWill(client.id));
    return will;
  }

  /** Resolves once every write asked for so far (and any it led to) is committed. */
  async flush(): Promise<void> {
    do {
      // writes aedes starts from callbacks of earlier ones join the set a turn later
      await new Promise((resolve) => setImmediate(resolve));
      await Promise.allSettled([...this.pending]);
    } while (this.pending.size > 0);
  }

  override async destroy(): Promise<void> {
    await this.flush();
    await super.destroy();
  }

  private async write(promise: Promise<unknown>): Promise<void> {
    this.pending.add(promise);
    try {
      await promise;
    } catch (err) {
      this.log.error({ err }, 'broker state write failed');
      throw err;
    } finally {
      this.pending.delete(promise);
    }
  }

  /** A warning at most once a minute per key, with the number held back since. */
  private warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    const seen = this.warned.get(key);
    if (seen && now - seen.at < WARN_INTERVAL_MS) {
      seen.suppressed++;
      return;
    }
    if (this.warned.size >= 1000) this.warned.clear();
    this.log.warn({ ...fields, suppressed: seen?.suppressed ?? 0 }, message);
    this.warned.set(key, { at: now, suppressed: 0 });
  }
}
